"""The dashboard feed's subscription on a sharded layer: back in its group soon after the group's shard restarts.

Runs once, in the first pass: it starts Redis servers of its own whatever the pass's channel layer is.
"""

import asyncio
from pathlib import Path
from typing import Any

import pytest
import redis.exceptions
from channels_redis.core import RedisChannelLayer

from retry.monitoring.subscription import Subscription
from tests import processes

pytestmark = pytest.mark.timeout(60)


async def test_a_restarted_shard_that_held_the_group_has_the_feed_back_within_seconds(
    redis_server: tuple[processes.Process, int], tmp_path: Path
) -> None:
    """The feed reads its channel from one shard, the group lives on the other; that one restarts empty, and the
    feed's receive never fails."""
    server, port = redis_server
    other_port = processes.free_port()
    other = processes.redis_server(other_port, tmp_path, name="other-redis").start()
    try:
        await asyncio.to_thread(processes.wait_until_listening, other_port)
        ports = [port, other_port]
        options = {"socket_connect_timeout": 1, "socket_timeout": 30}
        layer = RedisChannelLayer(hosts=[{"address": f"redis://127.0.0.1:{p}/0", **options} for p in ports])
        channel_shard = layer.consistent_hash((await layer.new_channel()).split("!")[0] + "!")
        group = next(f"tasks.{n}" for n in range(100) if layer.consistent_hash(f"tasks.{n}") != channel_shard)
        got: list[dict[str, Any]] = []
        subscription = Subscription(layer, group, got.append)
        await subscription.start()
        shard = layer.consistent_hash(group)
        restarted = [server, other][shard]

        restarted.kill()  # nothing on disk: the shard forgets the group
        restarted.start()
        await asyncio.to_thread(processes.wait_until_listening, ports[shard])
        await asyncio.sleep(5)
        try:
            await layer.group_send(group, {"type": "task.changes", "n": 1})
        except redis.exceptions.ConnectionError:  # the sender's pooled connection to the restarted shard fails once
            await layer.group_send(group, {"type": "task.changes", "n": 1})
        for _ in range(50):
            if any(message.get("n") == 1 for message in got):
                break
            await asyncio.sleep(0.1)
        assert [message["n"] for message in got if "n" in message] == [1]
        await subscription.stop()
        await layer.close_pools()
    finally:
        other.stop()
