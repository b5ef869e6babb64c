"""The relay while Redis is away: it keeps trying, joins again, and tells its listeners events may be lost.

Runs once, in the first pass: it starts a Redis of its own whatever the pass's channel layer is.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.exceptions
from channels_redis.core import RedisChannelLayer

from consumers import relay
from tests import processes

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def redis_layer(redis_server: tuple[processes.Process, int]) -> AsyncIterator[RedisChannelLayer]:
    _, port = redis_server
    hosts = [{"address": f"redis://127.0.0.1:{port}/0", "socket_connect_timeout": 1, "socket_timeout": 30}]
    layer = RedisChannelLayer(hosts=hosts, prefix="relay-outage")
    yield layer
    await layer.close_pools()


async def next_message(inbox: relay.Inbox, timeout: float = 15) -> dict[str, Any]:
    return await asyncio.wait_for(inbox.get(), timeout)


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
    redis_server: tuple[processes.Process, int], tmp_path: Any
) -> None:
    """Two shards: the process reads its channel from one, the group lives on the other. The group's shard
    restarts empty; the relay's receive never fails, yet it must be in the group again soon."""
    server, port = redis_server
    other_port = processes.free_port()
    other = processes.redis_server(other_port, tmp_path, name="other-redis").start()
    try:
        await asyncio.to_thread(processes.wait_until_listening, other_port)
        ports = [port, other_port]
        hosts = [
            {"address": f"redis://127.0.0.1:{p}/0", "socket_connect_timeout": 1, "socket_timeout": 30} for p in ports
        ]
        layer = RedisChannelLayer(hosts=hosts, prefix="relay-shards")
        channel_shard = layer.consistent_hash((await layer.new_channel()).split("!")[0] + "!")
        group = next(f"boards.{n}" for n in range(100) if layer.consistent_hash(f"boards.{n}") != channel_shard)
        hub = relay.Relay(layer)
        inbox = relay.Inbox()
        await hub.join(inbox, (group,))
        group_server = server if layer.consistent_hash(group) == 0 else other
        group_port = ports[layer.consistent_hash(group)]

        group_server.kill()  # nothing on disk: the shard forgets the group
        await restart(group_server, group_port)
        await asyncio.sleep(5)  # the boards resync meanwhile; events must come again within seconds
        try:
            await layer.group_send(group, {"type": "order.changed", "n": 1})
        except redis.exceptions.ConnectionError:  # the sender's pooled connection to the restarted shard fails once
            await layer.group_send(group, {"type": "order.changed", "n": 1})
        assert (await next_event(inbox))["n"] == 1
        await hub.leave(inbox, (group,))
        await layer.close_pools()
    finally:
        other.stop()
