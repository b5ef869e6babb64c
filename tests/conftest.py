"""Fixtures shared by every test package."""

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers, get_channel_layer
from channels.routing import get_default_application
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.db import connections
from django.test import override_settings

from harness.layers import flush_channel_layer
from retry import conf, controls
from retry.dispatcher import Dispatcher
from retry.outbox import outbox
from retry.worker import runner
from retry.worker.process import RetryWorker
from tests import processes, shards


def uses_services() -> bool:
    """True in the second pass of `make test`: PostgreSQL and Redis instead of SQLite and memory."""
    return bool(settings.REDIS_URLS)


#: The shared Redis server; tests give their keys a prefix of their own.
SHARED_REDIS = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")


def escaped(text: str) -> str:
    """``text`` with what UTF-8 cannot carry (a lone surrogate) written as a backslash escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """pytest-xdist sends each report to the main process as UTF-8: what a hostile-input test logged (a lone
    surrogate) travels escaped instead of ending the worker with its remaining tests."""
    report.sections = [(title, escaped(text)) for title, text in report.sections]
    if report.longrepr is not None and escaped(text := str(report.longrepr)) != text:
        report.longrepr = escaped(text)


@pytest.fixture(autouse=True)
def fresh_controls() -> Iterator[None]:
    """Each test reads queue pauses and task limits afresh: a process keeps them up to controls.TTL, and a test's
    rolled-back pause would otherwise hold the next test's queue."""
    controls.forget()
    yield
    controls.forget()


@pytest.fixture
def redis_url() -> str:
    return SHARED_REDIS


@pytest.fixture(scope="session", autouse=True)
def close_thread_connections(django_db_setup: None) -> Iterator[None]:
    """Close the connection Django's async ORM opened in asgiref's shared thread, so the test database can go."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture
async def layer(transactional_db: None) -> AsyncIterator[Any]:
    """The default channel layer (in memory, or Redis in the second pass), empty and made for this test, with the task
    and order events the test causes published on the test's event loop.

    Made anew because a process's layer serves one event loop and each test has its own: channels-redis keeps asyncio
    locks in the layer, and one that a cancelled receive leaves behind stops a later test's receives
    (tests/test_layer_fixture.py)."""
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    flush_channel_layer()
    outbox.use_loop(asyncio.get_running_loop())
    yield get_channel_layer()
    await asyncio.sleep(0.05)
    outbox.use_loop(None)
    flush_channel_layer()


@contextlib.asynccontextmanager
async def running_worker(queues: list[str], *, dispatcher: bool = True) -> AsyncIterator[RetryWorker]:
    """A task worker for ``queues``, running in the test's event loop, with a dispatcher unless told otherwise."""
    channels = [conf.get().CHANNEL_PREFIX + queue for queue in queues]
    instance = RetryWorker(get_default_application(), channels, get_channel_layer(), handle_signals=False)
    stop_dispatcher = asyncio.Event()
    running = [asyncio.ensure_future(instance.arun())]
    if dispatcher:
        running.append(asyncio.ensure_future(Dispatcher().run(stop_dispatcher)))
    await asyncio.sleep(0)
    try:
        yield instance
    finally:
        stop_dispatcher.set()
        instance.request_stop()
        await asyncio.wait_for(asyncio.gather(*running, return_exceptions=True), 30)
        outbox.use_loop(None)
        runner.install(None)


@pytest.fixture
async def worker(layer: Any) -> AsyncIterator[RetryWorker]:
    """A task worker for every queue of the default backend, plus a dispatcher, running in the test's event loop."""
    async with running_worker(conf.queues()) as instance:
        yield instance
    outbox.use_loop(asyncio.get_running_loop())  # the layer fixture's events go on until it ends


@contextlib.contextmanager
def redis_channel_layer(name: str, **config: Any) -> Iterator[Any]:
    """The default channel layer on the shared Redis, with a key prefix of its own starting with ``name``; what the
    outbox still holds goes out before the prefix's keys are deleted."""
    prefix = f"{name}-{uuid.uuid4().hex[:10]}"
    config = {"hosts": [SHARED_REDIS], "prefix": prefix, "expiry": 60, **config}
    with override_settings(
        CHANNEL_LAYERS={"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}
    ):
        yield get_channel_layer()
        assert outbox.flush(timeout=10)
        flush_channel_layer()


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[tuple[processes.Process, int]]:
    """A redis-server of the test's own, on a free port, for tests that stop and start it."""
    port = processes.free_port()
    server = processes.redis_server(port, tmp_path).start()
    await asyncio.to_thread(processes.wait_until_listening, port)
    yield server, port
    server.stop()


@pytest.fixture
async def two_shards(redis_server: tuple[processes.Process, int], tmp_path: Path) -> AsyncIterator[shards.Shards]:
    """A channel layer on ``redis_server`` and a second throwaway Redis, as two shards."""
    server, port = redis_server
    other_port = processes.free_port()
    other = processes.redis_server(other_port, tmp_path, name="other-redis").start()
    await asyncio.to_thread(processes.wait_until_listening, other_port)
    options = {"socket_connect_timeout": 1, "socket_timeout": 30}
    layer = RedisChannelLayer(hosts=[{"address": f"redis://127.0.0.1:{p}/0", **options} for p in (port, other_port)])
    yield shards.Shards(layer, [server, other], [port, other_port])
    await layer.close_pools()
    other.stop()
