"""A round trip through channels-redis on the real Redis: send, receive, and a group message."""

import uuid
from collections.abc import AsyncIterator

import pytest
from channels_redis.core import RedisChannelLayer

pytestmark = pytest.mark.services


@pytest.fixture
async def layer(redis_url: str) -> AsyncIterator[RedisChannelLayer]:
    layer = RedisChannelLayer(hosts=[redis_url], prefix=f"test-{uuid.uuid4().hex}")
    yield layer
    await layer.flush()
    await layer.close_pools()


async def test_a_message_sent_to_a_channel_is_received(layer: RedisChannelLayer) -> None:
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "order.changed", "order_id": 42})
    assert await layer.receive(channel) == {"type": "order.changed", "order_id": 42}


async def test_a_group_message_reaches_every_member(layer: RedisChannelLayer) -> None:
    members = [await layer.new_channel() for _ in range(2)]
    outsider = await layer.new_channel()
    for channel in members:
        await layer.group_add("kitchen", channel)
    await layer.group_send("kitchen", {"type": "board.update", "version": 1})
    for channel in members:
        assert await layer.receive(channel) == {"type": "board.update", "version": 1}
    # Had the group message reached the outsider, it would come out before the probe.
    await layer.send(outsider, {"type": "probe"})
    assert await layer.receive(outsider) == {"type": "probe"}


async def test_flush_removes_what_the_layer_stored(redis_url: str) -> None:
    layer = RedisChannelLayer(hosts=[redis_url], prefix=f"test-{uuid.uuid4().hex}")
    await layer.send("kept.channel", {"type": "left.behind"})
    await layer.flush()
    connection = layer.connection(0)
    assert await connection.keys(f"{layer.prefix}*") == []
    await layer.close_pools()
