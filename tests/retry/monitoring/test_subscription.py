"""The task feed while Redis is away: it serves its client from the database, then joins the group again and
sends fresh figures once Redis is back.

Runs once, in the first pass: it starts a Redis of its own whatever the pass's channel layer is.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest
import redis
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer
from pytest_django import Settings

from tests import processes
from tests.retry.feeds import task_changes, watching

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@pytest.fixture
async def layer(redis_server: tuple[processes.Process, int], settings: Settings) -> AsyncIterator[RedisChannelLayer]:
    """The project's channel layer, on the Redis of this test."""
    _, port = redis_server
    hosts = [{"address": f"redis://127.0.0.1:{port}/0", "socket_connect_timeout": 1, "socket_timeout": 30}]
    config = {"hosts": hosts, "prefix": "feed-outage"}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}
    layer = cast(RedisChannelLayer, get_channel_layer())
    yield layer
    await layer.close_pools()


async def restart(server: processes.Process, port: int) -> None:
    server.start()
    await asyncio.to_thread(processes.wait_until_listening, port)


async def figures(feed: WebsocketCommunicator, timeout: float = 15) -> None:
    assert (await feed.receive_json_from(timeout=timeout))["type"] == "dashboard.figures"


async def announce(layer: Any) -> None:
    """Task changes, as retry.events publishes them; this test's own pooled connections may fail once first."""
    for _ in range(3):
        try:
            return await task_changes(layer)
        except redis.ConnectionError:
            await asyncio.sleep(0.1)
    await task_changes(layer)


async def quiet(feed: WebsocketCommunicator) -> None:
    """Read pushes until none comes for a second (a stale pooled connection may fail once more, and resume again)."""
    while not await feed.receive_nothing(timeout=1):
        await figures(feed)


async def test_the_feed_outlives_a_redis_outage_and_joins_the_group_again(
    redis_server: tuple[processes.Process, int], layer: Any, open_feed: Callable[..., Any]
) -> None:
    server, port = redis_server
    feed = await watching(open_feed)
    await task_changes(layer)
    await figures(feed)

    server.kill()  # nothing on disk: the group and its member are gone too
    await feed.send_json_to({"type": "refresh", "version": 1})
    await figures(feed)  # from the database, Redis or not
    await asyncio.sleep(1)
    await restart(server, port)

    await figures(feed)  # back: changes may have gone unannounced meanwhile
    await quiet(feed)
    await announce(layer)
    await figures(feed)


async def test_a_feed_opened_while_redis_is_away_gets_events_once_it_is_back(
    redis_server: tuple[processes.Process, int], layer: Any, open_feed: Callable[..., Any]
) -> None:
    server, port = redis_server
    server.kill()
    feed = await watching(open_feed)  # the figures come at once; the events later
    await asyncio.sleep(0.5)
    await restart(server, port)

    await figures(feed)
    await quiet(feed)
    await announce(layer)
    await figures(feed)
