"""Fixtures shared by every test package."""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from asgiref.sync import SyncToAsync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.db import connections

from retry.outbox import outbox
from tests import processes


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


@pytest.fixture
def redis_url() -> str:
    return SHARED_REDIS


@pytest.fixture(scope="session", autouse=True)
def close_thread_connections(django_db_setup: None) -> Iterator[None]:
    """Close the connection Django's async ORM opened in asgiref's shared thread, so the test database can go."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


def flush_channel_layer() -> None:
    """Empty the default channel layer: its keys on Redis (pools stay open), or the in-memory queues."""
    layer = get_channel_layer()
    if isinstance(layer, RedisChannelLayer):
        for host in layer.hosts:
            client = redis.Redis.from_url(host["address"])
            keys = list(client.scan_iter(f"{layer.prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()
    else:
        layer.channels.clear()
        layer.groups.clear()


@contextlib.asynccontextmanager
async def events_on_this_loop() -> AsyncIterator[Any]:
    """The channel layer, empty, with the events the test causes published on its event loop."""
    flush_channel_layer()
    outbox.use_loop(asyncio.get_running_loop())
    yield get_channel_layer()
    await asyncio.sleep(0.05)
    outbox.use_loop(None)
    flush_channel_layer()


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[tuple[processes.Process, int]]:
    """A redis-server of the test's own, on a free port, for tests that stop and start it."""
    port = processes.free_port()
    server = processes.redis_server(port, tmp_path).start()
    await asyncio.to_thread(processes.wait_until_listening, port)
    yield server, port
    server.stop()
