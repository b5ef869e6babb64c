import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels import DEFAULT_CHANNEL_LAYER
from channels.auth import AuthMiddlewareStack
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connections

from harness.layers import flush_channel_layer
from retry import conf, routing
from retry.models import TaskRecord
from retry.outbox import outbox
from tests import tasks
from tests.conftest import redis_channel_layer
from tests.effects.models import Effect, Run
from tests.retry.feeds import session_cookie


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


def enqueued(key: str = "k", task: Any = tasks.record, **changes: object) -> TaskRecord:
    """``task`` enqueued with ``key``, its message handed to the layer, then its row changed as ``changes`` say."""
    result = task.enqueue(key)
    outbox.flush()
    if changes:
        TaskRecord.objects.filter(pk=result.id).update(**changes)
    return TaskRecord.objects.get(pk=result.id)


def runs(key: str) -> int:
    return Run.objects.filter(key=key).count()


def effects(key: str) -> int:
    return Effect.objects.filter(key=key).count()


@pytest.fixture
def static_root(settings: Any, tmp_path: Any) -> None:
    """An existing STATIC_ROOT: WhiteNoise warns about a missing one, and warnings fail tests."""
    settings.STATIC_ROOT = tmp_path


@pytest.fixture
def layer_messages() -> Iterator[Callable[[str], list[dict[str, object]]]]:
    """Read what waits on a queue's channel (of the layer the settings name now), without a worker."""
    flush_channel_layer()

    def read(queue: str) -> list[dict[str, object]]:
        layer = get_channel_layer()
        if not isinstance(layer, InMemoryChannelLayer):
            # Each read runs on an event loop of its own, and a Redis layer's receive locks stay with the loop of a
            # read that timed out: a fresh layer reads the same Redis keys.
            layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        return receive_all(layer, conf.get().CHANNEL_PREFIX + queue, quiet=0.2)

    yield read
    flush_channel_layer()


@pytest.fixture
def redis_layer(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The default channel layer on the shared Redis, with a prefix of its own and room for 10 messages
    (or as many as the test's parameter says)."""
    with redis_channel_layer("transport", capacity=getattr(request, "param", 10)) as layer:
        yield layer


def receive_all(layer: Any, channel: str, quiet: float = 0.5) -> list[dict[str, object]]:
    """Everything waiting on ``channel``, read with the layer's own ``receive`` until it stays ``quiet`` seconds."""

    async def drain() -> list[dict[str, object]]:
        found = []
        while True:
            try:
                found.append(await asyncio.wait_for(layer.receive(channel), quiet))
            except TimeoutError:
                return found

    return async_to_sync(drain)()


@pytest.fixture
async def open_feed(layer: Any) -> AsyncIterator[Callable[..., Any]]:
    """open_feed(username or None, **user fields) → (communicator, (accepted, subprotocol)), at RETRY_FEED_PATH."""
    opened = []

    async def open_as(username: str | None, **fields: Any) -> tuple[WebsocketCommunicator, Any]:
        headers = [] if username is None else [(b"cookie", await sync_to_async(session_cookie)(username, **fields))]
        application = AuthMiddlewareStack(URLRouter(routing.websocket_urlpatterns()))  # type: ignore[arg-type]  # URLRouter takes path()s of ASGI apps; the stubs want its own patterns
        communicator = WebsocketCommunicator(application, "/" + conf.get().FEED_PATH, headers=headers)
        opened.append(communicator)
        return communicator, await communicator.connect(timeout=5)

    yield open_as
    for communicator in opened:
        if not communicator.future.done():
            await communicator.disconnect()
