"""A consumer's membership of one channel-layer group that outlives the layer's failures.

A Channels consumer receives on the layer in its own dispatch loop, so a layer that fails (Redis away) ends it.
Here the receive runs apart and hands each message on; a failure is waited out with backoff, and once the layer
answers again the group is joined anew (Redis may have lost it) and a RESUMED message says that events may have
been lost meanwhile. Group events stay at most once, as the layer makes them.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from channels.layers import BaseChannelLayer

from retry.policy import backoff_delay

logger = logging.getLogger("retry.monitoring.subscription")

#: Seconds before the first new attempt after the layer failed; each failure in a row doubles it, up to RETRY_MAX.
RETRY_FIRST = 0.25
RETRY_MAX = 5.0
#: Seconds between two joins of the group. The layer forgets a member after its group expiry; and with shards, the
#: group may live on another shard than the one the channel is read from, so a restart of that shard (which forgets
#: the group) raises nothing here: joining again every few seconds gets the subscription back in. One ZADD a time.
REJOIN_INTERVAL = 2.0
#: The type of the message handed on when the layer is back after a failure.
RESUMED = "subscription.resumed"


class Subscription:
    """The group ``group``, joined with a channel of its own; each message it receives goes to ``deliver``."""

    def __init__(self, layer: BaseChannelLayer, group: str, deliver: Callable[[dict[str, Any]], None]) -> None:
        self.layer = layer
        self.group = group
        self.deliver = deliver
        self.channel = ""
        self.task: asyncio.Future[Any] | None = None

    async def start(self) -> None:
        """Join the group; a layer that fails now delays the events, and RESUMED follows once it is back."""
        self.channel = await self.layer.new_channel()
        failures = 0
        try:
            await self.layer.group_add(self.group, self.channel)
        except Exception as error:
            logger.warning("Could not join group; trying again", extra={"group": self.group, "error": repr(error)})
            failures = 1
        self.task = asyncio.gather(self.receive(failures), self.rejoin())

    async def stop(self) -> None:
        """Leave the group; a layer that fails now drops the member after its group expiry."""
        task, self.task = self.task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        try:
            await self.layer.group_discard(self.group, self.channel)
        except Exception as error:
            logger.warning("Could not leave group", extra={"group": self.group, "error": repr(error)})

    async def receive(self, failures: int) -> None:
        joined = not failures
        while True:
            try:
                if failures:
                    await asyncio.sleep(
                        backoff_delay(failures, base_delay=RETRY_FIRST, factor=2, max_delay=RETRY_MAX, jitter=0)
                    )
                    await self.layer.group_add(self.group, self.channel)
                    joined = True
                    logger.info("Channel layer back; group joined again", extra={"group": self.group})
                    self.deliver({"type": RESUMED, "group": self.group})
                message = await self.layer.receive(self.channel)
            except Exception as error:  # ConnectionError, TimeoutError, ...: Redis is away
                failures += 1
                log = logger.warning if joined else logger.debug
                log("Channel layer unavailable; trying again", extra={"group": self.group, "error": repr(error)})
                joined = False
                continue
            # Only a message received resets the backoff: a layer that takes the join but fails the receive is
            # not back yet.
            failures = 0
            self.deliver(message)

    async def rejoin(self) -> None:
        while True:
            await asyncio.sleep(REJOIN_INTERVAL)
            try:
                await self.layer.group_add(self.group, self.channel)
            except Exception as error:
                logger.debug("Could not join group again", extra={"group": self.group, "error": repr(error)})
