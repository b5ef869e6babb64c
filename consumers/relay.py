"""One member per process in each board group: a group event crosses the channel layer once per process.

A consumer of its own in a group costs every event one delivery per consumer: on Redis, the group's member
list travels in the message, the process fills a queue per consumer and wakes a receive per consumer; in
memory, the event is copied per consumer. Here the process joins each group once, with a channel of its own,
as long as some local consumer listens to that group, and hands each event it receives to every listener's
inbox, where the consumer's one dispatch loop takes it in turn with its client's messages.

A listener may name what a message needs read (a Prepare): the relay starts those reads as the message arrives
and hands the message out once they are done, after the messages that came before it, so that each consumer
handles an event in one step instead of waiting for each read in turn.

Group events stay at most once. While the layer fails, the relay keeps trying to join and receive again
(Redis may have lost the group); once it is back, every listener gets a RESUMED message, because events
may have been lost meanwhile.
"""

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from channels.layers import BaseChannelLayer

from retry.policy import backoff_delay

logger = logging.getLogger("consumers")

#: Messages waiting in one consumer's inbox at most; later group events and timer messages are dropped, as a full
#: channel would drop them (the client's own messages never are).
INBOX_CAPACITY = 1000
#: Seconds between two joins of a group the relay is in. The layer forgets a member after its group expiry; and
#: with shards, the group may live on another shard than the one the relay reads its channel from, so a restart
#: of that shard (which forgets the group) raises nothing here: joining again every few seconds is how the process
#: gets back in. A join is one ZADD per group and process.
REJOIN_INTERVAL = 2.0
#: Seconds before the first new attempt after the layer failed; each failure in a row doubles it, up to RETRY_MAX.
RETRY_FIRST = 0.25
RETRY_MAX = 5.0
#: The type of the message listeners get when the relay is back after the layer failed.
RESUMED = "relay.resumed"
#: The key of the monotonic time a message reached this process, which the relay adds to each message it hands out:
#: a read begun since then sees what the message announces.
ARRIVED = "relay.arrived"


class Inbox(asyncio.Queue[Any]):
    """A consumer's queue of messages to handle: dicts, or the exception its client's receive raised."""

    def __init__(self, owner: Any = None) -> None:
        super().__init__()
        #: The consumer that handles what comes in, for a Prepare to look at.
        self.owner = owner


#: Starts the reads a message needs, given the feed's inboxes; the message waits until the futures are done.
Prepare = Callable[[dict[str, Any], Collection[Inbox]], Collection[asyncio.Future[Any]]]


def hand(inbox: Inbox, message: dict[str, Any]) -> None:
    """Put ``message`` in ``inbox``; a full inbox drops it, so a stuck consumer cannot hold on to memory."""
    if inbox.qsize() < INBOX_CAPACITY:
        inbox.put_nowait(message)
    else:
        logger.debug("Inbox full; message dropped", extra={"type": message.get("type")})


class Feed:
    """This process's member of one group: receives each of the group's events once, for every local listener.

    Listeners share the message they are handed and must not change it.
    """

    def __init__(self, layer: BaseChannelLayer, group: str) -> None:
        self.layer = layer
        self.group = group
        #: Each listener's inbox, and what its messages need read.
        self.inboxes: dict[Inbox, Prepare | None] = {}
        self.preparers: collections.Counter[Prepare] = collections.Counter()
        #: Messages waiting for their reads, in the order they came, and the task that hands them out.
        self.line: collections.deque[tuple[dict[str, Any], list[asyncio.Future[Any]]]] = collections.deque()
        self.handing: asyncio.Future[None] | None = None
        #: The channel in the group while the feed runs; None when it is stopped.
        self.channel: str | None = None
        self.task: asyncio.Future[Any] | None = None
        #: Messages received from the layer since the feed was made.
        self.received = 0
        # Joins and leaves of the layer's group happen one at a time.
        self.lock = asyncio.Lock()

    async def add(self, inbox: Inbox, prepare: Prepare | None = None) -> None:
        """Hand ``inbox`` every event of the group from the moment this returns, once ``prepare``'s reads are done."""
        if inbox not in self.inboxes:
            self.inboxes[inbox] = prepare
            if prepare is not None:
                self.preparers[prepare] += 1
        if self.channel is None:
            async with self.lock:
                if self.channel is None and inbox in self.inboxes:
                    await self.start()

    async def start(self) -> None:
        channel = await self.layer.new_channel()
        failures = 0
        try:
            await self.layer.group_add(self.group, channel)
        except Exception as error:
            # The listener goes on without events for now; it gets RESUMED once the join goes through.
            logger.warning("Could not join group; trying again", extra={"group": self.group, "error": repr(error)})
            failures = 1
        # Set only now: a listener that finds the channel set may count on being in the group.
        self.channel, self.task = channel, asyncio.ensure_future(self.run(channel, failures))

    async def remove(self, inbox: Inbox) -> None:
        """Stop handing ``inbox`` events; the last listener to go takes the feed out of the group."""
        if inbox in self.inboxes and (prepare := self.inboxes.pop(inbox)) is not None:
            self.preparers[prepare] -= 1
            if not self.preparers[prepare]:
                del self.preparers[prepare]
        if not self.inboxes:
            async with self.lock:
                if not self.inboxes and self.channel is not None:
                    await self.stop()

    async def stop(self) -> None:
        channel, task = self.channel, self.task
        self.channel = self.task = None
        assert channel is not None and task is not None
        task.cancel()
        if self.handing is not None:
            self.handing.cancel()
        self.line.clear()
        await asyncio.gather(task, return_exceptions=True)
        try:
            await self.layer.group_discard(self.group, channel)
        except Exception as error:
            # The layer drops the member after its group expiry; until then the process ignores its events.
            logger.warning("Could not leave group", extra={"group": self.group, "error": repr(error)})

    async def run(self, channel: str, failures: int) -> None:
        await asyncio.gather(self.receive(channel, failures), self.rejoin(channel))

    async def receive(self, channel: str, failures: int) -> None:
        while True:
            try:
                if failures:
                    await asyncio.sleep(
                        backoff_delay(failures, base_delay=RETRY_FIRST, factor=2, max_delay=RETRY_MAX, jitter=0)
                    )
                    await self.layer.group_add(self.group, channel)
                    logger.info("Channel layer back; boards resync", extra={"group": self.group})
                    self.arrived({"type": RESUMED, "group": self.group})
                message = await self.layer.receive(channel)
            except Exception as error:  # ConnectionError, TimeoutError, ...: Redis is away
                failures += 1
                log = logger.warning if failures == 1 else logger.debug
                log("Channel layer unavailable; trying again", extra={"group": self.group, "error": repr(error)})
                continue
            failures = 0
            self.received += 1
            self.arrived(message)

    async def rejoin(self, channel: str) -> None:
        while True:
            await asyncio.sleep(REJOIN_INTERVAL)
            try:
                await self.layer.group_add(self.group, channel)
            except Exception as error:
                logger.debug("Could not join group again", extra={"group": self.group, "error": repr(error)})

    def arrived(self, message: dict[str, Any]) -> None:
        """Hand ``message`` out once the reads it needs are done, after the messages that came before it."""
        message = {**message, ARRIVED: time.monotonic()}
        pending = [future for future in self.prepare(message) if not future.done()]
        if not pending and not self.line:
            self.hand_out(message)
            return
        self.line.append((message, pending))
        if self.handing is None or self.handing.done():
            self.handing = asyncio.ensure_future(self.hand_out_line())

    def prepare(self, message: dict[str, Any]) -> list[asyncio.Future[Any]]:
        pending: list[asyncio.Future[Any]] = []
        for prepare in list(self.preparers):
            try:
                pending += prepare(message, self.inboxes.keys())
            except Exception:
                # Each consumer reads what it needs itself then.
                logger.exception("Could not prepare a message", extra={"group": self.group})
        return pending

    async def hand_out_line(self) -> None:
        while self.line:
            message, pending = self.line[0]
            if pending:
                # Not cancelled with this task: the reads are shared. A failed one is read again by its consumers.
                await asyncio.wait(pending)
            self.line.popleft()
            self.hand_out(message)

    def hand_out(self, message: dict[str, Any]) -> None:
        for inbox in self.inboxes:
            hand(inbox, message)


class Relay:
    """The feeds of one channel layer in one event loop."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.feeds: dict[str, Feed] = {}
        self.leaving: set[asyncio.Future[None]] = set()

    def feed(self, group: str) -> Feed:
        if group not in self.feeds:
            self.feeds[group] = Feed(self.layer, group)
        return self.feeds[group]

    async def join(self, inbox: Inbox, groups: tuple[str, ...], prepare: Prepare | None = None) -> None:
        """Hand ``inbox`` the events of ``groups`` from the moment this returns, once ``prepare``'s reads are done."""
        for group in groups:
            await self.feed(group).add(inbox, prepare)

    async def leave(self, inbox: Inbox, groups: tuple[str, ...]) -> None:
        for group in groups:
            await self.feed(group).remove(inbox)

    def forget(self, inbox: Inbox) -> None:
        """Leave every group without waiting, for a consumer that ends without its disconnect handler."""
        for feed in self.feeds.values():
            if inbox in feed.inboxes:
                leaving = asyncio.ensure_future(feed.remove(inbox))
                self.leaving.add(leaving)
                leaving.add_done_callback(self.leaving.discard)


#: The relay of each event loop and channel layer; a closed loop's relay is forgotten.
relays: dict[tuple[asyncio.AbstractEventLoop, BaseChannelLayer], Relay] = {}


def relay_of(layer: BaseChannelLayer) -> Relay:
    """The relay of ``layer`` in the running event loop."""
    key = (asyncio.get_running_loop(), layer)
    if key not in relays:
        for stale in [known for known in relays if known[0].is_closed()]:
            del relays[stale]
        relays[key] = Relay(layer)
    return relays[key]
