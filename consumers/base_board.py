"""What both boards share: a snapshot on connect, numbered events after it, and repair of lost events.

Group events are at most once. Each one names a changed order and the board re-reads that order, so a
late or repeated event is harmless; a lost event number, a client's request, or the periodic resync
makes the board send what the database says. The boards of one process share their group membership
(consumers.relay: each event reaches the process once) and their reads (consumers.reads): one read of the
card per event, whatever the number of boards. Every card a client is sent carries the time
its read began, and a card read earlier than the one the client has is never sent.
"""

import asyncio
import logging
import math
import time
from collections.abc import Collection, Coroutine
from typing import Any

from channels.consumer import get_handler_name
from django.conf import settings
from django.utils import timezone

from consumers import protocol, reads, relay, wire
from consumers.socket import GuardedSocket

logger = logging.getLogger("consumers")

#: Seconds a skipped event number may arrive late (Redis delivers a sender's events slightly out of order) before
#: the board counts it lost; each number gets its own wait.
GAP_GRACE = 0.5
#: Most skipped numbers awaited at once.
MAX_GAP = 100
#: The messages every board of a process may get at once: group events, the relay's, and the timers' of boards
#: that connected together. Their handlers reach the database only through the shared reads.
SHARED_MESSAGES = frozenset(
    {
        "order.changed",
        "task.changed",
        "task.changes",
        relay.RESUMED,
        "board.resync",
        "board.gap_check",
        "board.catch_up",
    }
)
#: Seconds between two looks at a client that is behind.
CATCH_UP_CHECK = 0.1
#: The moments per resync interval on which the resyncs of a process fall.
RESYNC_MOMENTS = 15


def resync_delay(interval: float, now: float) -> float:
    """Seconds from ``now`` (the monotonic clock) to the first resync moment more than ``interval`` away.

    The boards of one moment share one read of the board and of each session. Each at its own moment, 2,500 boards
    of a process kept its database thread reading: a third of daphne's CPU while events fanned out.
    """
    step = interval / RESYNC_MOMENTS
    return (math.floor((now + interval) / step) + 1) * step - now


def event_key(event: dict[str, Any]) -> tuple[Any, ...] | None:
    """What tells one order event from another: its sender, number and order; None when it is not numbered."""
    source, number = event.get("source"), event.get("n")
    if not isinstance(source, str) or not isinstance(number, int):
        return None
    return source, number, event.get("order_id")


class BaseBoardConsumer(GuardedSocket):
    """A board: subclasses name their groups and cards, and may take actions besides "snapshot"."""

    board = ""
    timers: set[asyncio.Future[None]] = frozenset()  # type: ignore[assignment]

    def board_groups(self) -> tuple[str, ...]:
        raise NotImplementedError

    #: Every card of the board by order id, read with the key None.
    board_reads: reads.SharedReads
    #: One order's card by its id, None when the board does not show it.
    card_reads: reads.SharedReads

    def removed(self, card: dict[str, Any]) -> dict[str, Any]:
        """What an "order.removed" event says about the card that left."""
        return {"number": card["number"]}

    def seen(self, order_id: int, card: dict[str, Any]) -> None:
        """Called with every card the client is sent."""

    async def act(self, action: protocol.Action) -> None:
        """Carry out an action other than "snapshot"."""

    @classmethod
    def prepare(cls, message: dict[str, Any], inboxes: Collection[relay.Inbox]) -> list[asyncio.Future[Any]]:
        """An order event's reads, started as it reaches the process: its card, then the boards' sessions."""
        event, order_id = event_key(message), message.get("order_id")
        if message.get("type") != "order.changed" or event is None or not isinstance(order_id, int):
            return []
        card = cls.card_reads.read_after_event(event, order_id)
        return [card.future, *cls.access_reads(card, inboxes)]

    async def connect(self) -> None:
        self.seq = 0
        self.cards: dict[int, dict[str, Any]] = {}
        # When the read behind each card began; nothing read before ``floor`` is sent.
        self.floor = float("-inf")
        self.stamps: dict[int, float] = {}
        self.sources: dict[str, int] = {}
        # Each skipped event number, and when it counts as lost.
        self.missing: dict[tuple[str, int], float] = {}
        self.timers = set()
        found = self.scope.get("wire")  # consumers.wire.WireMiddleware puts it there
        self.wire = found if isinstance(found, wire.Wire) else wire.Wire(None)
        # Read at each connection, so a test can change them.
        #: Bytes a client may leave unread before pushes wait for it (then it gets what changed, or is dropped).
        self.send_buffer: int = settings.BOARD_SEND_BUFFER
        self.slow_grace: float = settings.BOARD_SLOW_GRACE
        self.behind_since: float | None = None
        self.snapshot_owed = False
        if not await self.admit():
            return
        # Join before reading, so no change falls between the snapshot and the first event.
        await self.listen(self.board_groups())
        await self.send_snapshot()
        self.start_timer(self.resync_timer(settings.BOARD_RESYNC_INTERVAL))

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels checks the database connection in a thread before every message: one thread hop per board
        # and event, in a queue. These messages read only through the shared reads, whose thread checks it anyway.
        if message.get("type") in SHARED_MESSAGES:
            await getattr(self, get_handler_name(message))(message)
        else:
            await super().dispatch(message)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.stop_timers()  # also when the server cancels the consumer instead of calling disconnect

    async def disconnect(self, code: int) -> None:
        self.stop_timers()
        await super().disconnect(code)

    def stop_timers(self) -> None:
        for timer in list(self.timers):
            timer.cancel()

    async def handle(self, action: protocol.Action) -> None:
        if action.type == "snapshot":
            await self.send_snapshot()
        else:
            await self.act(action)

    async def send_snapshot(self, read: tuple[float, dict[int, dict[str, Any]]] | None = None) -> None:
        """Send every card, as read now or by ``read`` (when it began, the cards); owed while the client is behind."""
        if self.behind():
            self.snapshot_owed = True
            return
        self.floor, cards = read or await self.board_reads.now(None)
        self.cards, self.stamps = dict(cards), {}
        for order_id, card in self.cards.items():
            self.seen(order_id, card)
        self.seq += 1
        await self.send_json(
            protocol.message(
                "snapshot",
                board=self.board,
                seq=self.seq,
                now=timezone.now().isoformat(),
                orders=list(self.cards.values()),
                **self.snapshot_extra(),
            )
        )

    def snapshot_extra(self) -> dict[str, Any]:
        return {}

    async def show(self, order_id: int, card: dict[str, Any] | None, change: str, read_at: float) -> None:
        """Send the client the order's new card, or its removal; nothing when the client has it or a newer one."""
        if self.behind() or read_at < self.stamps.get(order_id, self.floor) or not await self.allowed(read_at):
            return
        self.stamps[order_id] = read_at
        old = self.cards.get(order_id)
        if card == old:
            return
        self.seq += 1
        if card is None:
            removed = self.removed(self.cards.pop(order_id))  # the client has it: card == old returned
            event = protocol.message("order.removed", seq=self.seq, change=change, **removed)
            await self.send_json(event)
        else:
            self.cards[order_id] = card
            self.seen(order_id, card)
            text = protocol.order_event(self.seq, change, card)
            if not self.wire.write_text(text):
                await self.send(text_data=text)

    async def refresh(
        self, order_id: int, change: str, event: tuple[Any, ...] | None = None, since: float | None = None
    ) -> None:
        """Show the order as it is now, or as it was at least after ``event`` reached this process, or at ``since``."""
        if event is not None:
            read_at, card = await self.card_reads.after_event(event, order_id)
        elif since is not None:
            read_at, card = await self.card_reads.since(since, order_id)
        else:
            read_at, card = await self.card_reads.now(order_id)
        await self.show(order_id, card, change, read_at)

    async def resync(self) -> None:
        """Bring the client's cards in line with the database: the cards that differ, or a snapshot when smaller."""
        if self.behind():
            return  # it gets what changed once it caught up
        read_at, cards = await self.board_reads.now(None)
        if not await self.allowed(read_at):
            return
        changed = [order_id for order_id, card in cards.items() if self.cards.get(order_id) != card]
        removed = self.cards.keys() - cards.keys()
        # A snapshot carries every card in one message: smaller once every card changed and more than one goes.
        if len(changed) == len(cards) and len(changed) + len(removed) > 1:
            await self.send_snapshot((read_at, cards))
            return
        for order_id in removed:
            await self.show(order_id, None, "resync", read_at)
        for order_id in changed:
            await self.show(order_id, cards[order_id], "resync", read_at)
        # Every card is now at least as new as this read, so older reads of any order are stale.
        self.floor = max(self.floor, read_at)
        self.stamps = {order_id: stamp for order_id, stamp in self.stamps.items() if stamp > self.floor}

    def behind(self) -> bool:
        """Whether the client has more than send_buffer bytes unread: pushes then wait until it caught up."""
        if self.behind_since is None and self.wire.unsent() > self.send_buffer:
            self.behind_since = time.monotonic()
            self.start_timer(self.catch_up_timer())
        return self.behind_since is not None

    async def catch_up_timer(self) -> None:
        while self.behind_since is not None and not self.closed:
            await self.post_later(CATCH_UP_CHECK, {"type": "board.catch_up"})

    async def board_catch_up(self, message: dict[str, Any]) -> None:
        """A client behind gets what changed once it read half its buffer, or is dropped after slow_grace."""
        if self.behind_since is None or self.closed:
            return
        if self.wire.unsent() <= self.send_buffer // 2:
            self.behind_since = None
            owed, self.snapshot_owed = self.snapshot_owed, False
            await (self.send_snapshot() if owed else self.resync())
        elif time.monotonic() - self.behind_since > self.slow_grace:
            logger.info("Board client too slow; dropped", extra={"board": self.board})
            await self.close(protocol.TOO_SLOW)

    async def resync_timer(self, interval: float) -> None:
        # The timer only posts a message to this consumer, so resyncs queue up with events
        # instead of racing them.
        while True:
            await self.post_later(resync_delay(interval, time.monotonic()), {"type": "board.resync"})

    async def board_resync(self, message: dict[str, Any]) -> None:
        if not self.closed:
            await self.resync()

    # The channel layer is back after a failure: events may have been lost meanwhile.
    relay_resumed = board_resync

    async def order_changed(self, event: dict[str, Any]) -> None:
        """A group event: the order changed somewhere; show its current state."""
        if self.closed:
            return
        self.note_number(event)
        order_id = event.get("order_id")
        if isinstance(order_id, int):
            await self.refresh(order_id, str(event.get("change", "")), event_key(event))

    def note_number(self, event: dict[str, Any]) -> None:
        """Keep track of the sender's event numbers; each skipped one is awaited GAP_GRACE on its own, then lost."""
        key = event_key(event)
        if key is None:
            return
        source, number, _ = key
        last = self.sources.get(source)
        self.sources[source] = max(number, last or 0)
        self.missing.pop((source, number), None)
        if last is not None and number > last + 1:
            lost_at = time.monotonic() + GAP_GRACE
            for skipped in range(max(last + 1, number - MAX_GAP), number):
                self.missing.setdefault((source, skipped), lost_at)
            self.start_timer(self.post_later(GAP_GRACE, {"type": "board.gap_check"}))

    async def board_gap_check(self, message: dict[str, Any]) -> None:
        """Numbers whose wait is over are lost: send the client what changed (events the board cannot replay)."""
        now = time.monotonic()
        lost = [key for key, lost_at in self.missing.items() if lost_at <= now]
        if not lost or self.closed:
            return
        for key in lost:
            del self.missing[key]
        logger.info("Board missed events; sending what changed", extra={"board": self.board, "lost": len(lost)})
        await self.resync()

    def start_timer(self, coroutine: Coroutine[Any, Any, None]) -> None:
        timer = asyncio.ensure_future(coroutine)
        self.timers.add(timer)
        timer.add_done_callback(self.timers.discard)

    async def post_later(self, delay: float, message: dict[str, Any]) -> None:
        await asyncio.sleep(delay)
        self.post(message)
