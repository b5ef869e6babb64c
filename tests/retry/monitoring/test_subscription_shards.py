"""The dashboard feed's subscription on a sharded layer: back in its group soon after the group's shard restarts.

Runs once, in the first pass: it starts Redis servers of its own whatever the pass's channel layer is.
"""

import asyncio
from typing import Any

import pytest

from retry.monitoring.subscription import Subscription
from tests import shards

pytestmark = pytest.mark.timeout(60)


async def test_a_restarted_shard_that_held_the_group_has_the_feed_back_within_seconds(
    two_shards: shards.Shards,
) -> None:
    """The feed reads its channel from one shard, the group lives on the other; that one restarts empty, and the
    feed's receive never fails."""
    group = await two_shards.group_apart("tasks")
    got: list[dict[str, Any]] = []
    subscription = Subscription(two_shards.layer, group, got.append)
    await subscription.start()

    await two_shards.restart_shard_of(group)
    await asyncio.sleep(5)
    await two_shards.group_send(group, {"type": "task.changes", "n": 1})
    for _ in range(50):
        if any(message.get("n") == 1 for message in got):
            break
        await asyncio.sleep(0.1)
    assert [message["n"] for message in got if "n" in message] == [1]
    await subscription.stop()
