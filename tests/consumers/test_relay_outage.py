"""The relay while Redis is away: it keeps trying, joins again, and tells its listeners events may be lost.

Runs once, in the first pass: it starts a Redis of its own whatever the pass's channel layer is.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels_redis.core import RedisChannelLayer

from consumers import relay
from tests import processes, shards

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def redis_layer(redis_server: tuple[processes.Process, int]) -> AsyncIterator[RedisChannelLayer]:
    _, port = redis_server
    hosts = [{"address": f"redis://127.0.0.1:{port}/0", "socket_connect_timeout": 1, "socket_timeout": 30}]
    layer = RedisChannelLayer(hosts=hosts, prefix="relay-outage")
    yield layer
    await layer.close_pools()


async def next_message(inbox: relay.Inbox, timeout: float = 15) -> dict[str, Any]:
    """The next message handed to ``inbox``, as the layer had it: the relay adds when it reached the process."""
    message = await asyncio.wait_for(inbox.get(), timeout)
    assert isinstance(message[relay.ARRIVED], float)
    return {key: value for key, value in message.items() if key != relay.ARRIVED}


async def next_event(inbox: relay.Inbox) -> dict[str, Any]:
    """The next group event; RESUMED again in between is fine (a stale pooled connection fails once more)."""
    while (message := await next_message(inbox))["type"] == relay.RESUMED:
        pass
    return message


async def restart(server: processes.Process, port: int) -> None:
    server.start()
    await asyncio.to_thread(processes.wait_until_listening, port)


async def test_the_relay_outlives_a_redis_outage_and_joins_again(
    redis_server: tuple[processes.Process, int], redis_layer: RedisChannelLayer
) -> None:
    server, port = redis_server
    hub = relay.Relay(redis_layer)
    inbox = relay.Inbox()
    await hub.join(inbox, ("boards.one",))
    await redis_layer.group_send("boards.one", {"type": "order.changed", "n": 1})
    assert (await next_message(inbox))["n"] == 1
    await redis_layer.wait_received()  # channels-redis' clean-up of that message is not part of the outage

    server.kill()  # nothing on disk: the group and its member are gone too
    await asyncio.sleep(1)
    await restart(server, port)

    assert await next_message(inbox) == {"type": relay.RESUMED, "group": "boards.one"}
    await redis_layer.group_send("boards.one", {"type": "order.changed", "n": 2})
    assert (await next_event(inbox))["n"] == 2
    await hub.leave(inbox, ("boards.one",))
    assert hub.feeds["boards.one"].task is None


async def test_a_listener_joining_while_redis_is_away_gets_events_once_it_is_back(
    redis_server: tuple[processes.Process, int], redis_layer: RedisChannelLayer
) -> None:
    server, port = redis_server
    hub = relay.Relay(redis_layer)
    inbox = relay.Inbox()
    server.kill()
    await hub.join(inbox, ("boards.two",))  # returns: the board shows its snapshot, events come later
    await asyncio.sleep(0.5)
    await restart(server, port)

    assert await next_message(inbox) == {"type": relay.RESUMED, "group": "boards.two"}
    await redis_layer.group_send("boards.two", {"type": "order.changed", "n": 1})
    assert (await next_event(inbox))["n"] == 1
    await hub.leave(inbox, ("boards.two",))
    assert hub.feeds["boards.two"].task is None


async def test_a_restarted_shard_that_held_the_group_has_the_process_back_within_seconds(
    two_shards: shards.Shards,
) -> None:
    """Two shards: the process reads its channel from one, the group lives on the other. The group's shard
    restarts empty; the relay's receive never fails, yet it must be in the group again soon."""
    group = await two_shards.group_apart("boards")
    hub = relay.Relay(two_shards.layer)
    inbox = relay.Inbox()
    await hub.join(inbox, (group,))

    await two_shards.restart_shard_of(group)
    await asyncio.sleep(5)  # the boards resync meanwhile; events must come again within seconds
    await two_shards.group_send(group, {"type": "order.changed", "n": 1})
    assert (await next_event(inbox))["n"] == 1
    await hub.leave(inbox, (group,))
