import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync, sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.layers import get_channel_layer
from channels.routing import URLRouter, get_default_application
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import override_settings

from retry import conf, routing
from retry.dispatcher import Dispatcher
from retry.models import TaskRecord
from retry.outbox import outbox
from retry.worker.process import RetryWorker, runner
from tests.conftest import SHARED_REDIS, flush_channel_layer
from tests.effects.models import Effect, Run
from tests.retry.feeds import session_cookie

ALL_QUEUES = ["default", "emails", "webhooks", "maintenance"]


async def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``predicate`` (run in a thread, it may query the database) until it holds."""

    def checked() -> bool:
        try:
            return predicate()
        finally:
            connections.close_all()

    check = sync_to_async(checked, thread_sensitive=False)
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def all_finished() -> bool:
    return not TaskRecord.objects.filter(status__in=["READY", "RUNNING"]).exists()


def runs(key: str) -> int:
    return Run.objects.filter(key=key).count()


def effects(key: str) -> int:
    return Effect.objects.filter(key=key).count()


@pytest.fixture
def static_root(settings: Any, tmp_path: Any) -> None:
    """An existing STATIC_ROOT: WhiteNoise warns about a missing one, and warnings fail tests."""
    settings.STATIC_ROOT = tmp_path


@pytest.fixture
async def layer() -> AsyncIterator[object]:
    flush_channel_layer()
    yield get_channel_layer()
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
async def worker(layer: object, transactional_db: None) -> AsyncIterator[RetryWorker]:
    """A task worker for every queue, running in the test's event loop, plus a dispatcher."""
    async with running_worker(ALL_QUEUES) as instance:
        yield instance


@pytest.fixture
def layer_messages() -> Iterator[Callable[[str], list[dict[str, object]]]]:
    """Read what waits on a queue's channel (of the layer the settings name now), without a worker."""
    flush_channel_layer()

    def read(queue: str) -> list[dict[str, object]]:
        channel = conf.get().CHANNEL_PREFIX + queue
        channel_layer = get_channel_layer()

        async def drain() -> list[dict[str, object]]:
            found = []
            while True:
                try:
                    found.append(await asyncio.wait_for(channel_layer.receive(channel), 0.2))
                except TimeoutError:
                    return found

        return async_to_sync(drain)()

    yield read
    flush_channel_layer()


@pytest.fixture
def redis_layer(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The default channel layer on the shared Redis, with a prefix of its own and room for 10 messages
    (or as many as the test's parameter says)."""
    prefix = f"transport-{uuid.uuid4().hex[:10]}"
    capacity = getattr(request, "param", 10)
    config = {"hosts": [SHARED_REDIS], "prefix": prefix, "capacity": capacity, "expiry": 60}
    with override_settings(
        CHANNEL_LAYERS={"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}
    ):
        yield get_channel_layer()
        assert outbox.flush(timeout=10)
    client = redis.Redis.from_url(SHARED_REDIS)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def receive_all(layer: Any, channel: str) -> list[dict[str, object]]:
    """Everything waiting on ``channel``, read with the layer's own ``receive``."""

    async def drain() -> list[dict[str, object]]:
        found = []
        while True:
            try:
                found.append(await asyncio.wait_for(layer.receive(channel), 0.5))
            except TimeoutError:
                return found

    return async_to_sync(drain)()


@pytest.fixture
async def open_feed(layer: Any) -> AsyncIterator[Callable[..., Any]]:
    """open_feed(username or None, **user fields) → (communicator, (accepted, subprotocol)), at RETRY_FEED_PATH."""
    opened = []

    async def open_as(username: str | None, **fields: Any) -> tuple[WebsocketCommunicator, Any]:
        headers = [] if username is None else [(b"cookie", await sync_to_async(session_cookie)(username, **fields))]
        application = AuthMiddlewareStack(URLRouter(routing.websocket_urlpatterns()))
        communicator = WebsocketCommunicator(application, "/" + conf.get().FEED_PATH, headers=headers)
        opened.append(communicator)
        return communicator, await communicator.connect(timeout=5)

    yield open_as
    for communicator in opened:
        if not communicator.future.done():
            await communicator.disconnect()
