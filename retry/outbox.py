"""Hands task messages and events to the channel layer without blocking the caller and without losing tasks.

A message carries only a task id. Whatever happens to it — the layer is full, Redis is down, the message
expires unread — the task row stays READY and the dispatcher sends it again.

Task messages wait in a line per event loop. A caller only appends to it, and wakes the loop when nothing
drains the line yet; the drain takes everything waiting and sends each channel's share (retry/layer_send.py):
in one round trip on Channels' Redis layer (retry/redis_batch.py), one message at a time on others. Messages
that come while a round is under way, or within LINGER after it, go out together in the next round: a loop of
enqueues costs a wake-up and a round trip every few messages instead of several of each per message.
"""

import asyncio
import atexit
import functools
import logging
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from typing import Any

from channels.layers import get_channel_layer

from retry import layer_send
from retry.layer_send import OnFailure, Send, report_refused

logger = logging.getLogger("retry.outbox")


#: Sends under way at once: a burst must not take more connections than the layer's pool holds.
MAX_CONCURRENT_SENDS = 32
#: Seconds events wait to be published together in one group message.
BATCH_WINDOW = 0.05
#: Seconds a drain stays after its last round for more task messages. The first message of a quiet
#: moment goes out at once; under a steady stream, each waits at most this long to share a round trip.
LINGER = 0.005
#: Seconds a process that ends waits for its unsent messages (a cron job or ``shell -c`` that enqueued and
#: exits): what is not out by then, the dispatcher sends after the message expiry.
EXIT_FLUSH_TIMEOUT = 5.0
#: Seconds a blocking send (the dispatcher's) waits for the layer before it counts the messages as refused.
SEND_NOW_TIMEOUT = 5.0


class Line:
    """The task messages waiting for one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: list[Send] = []
        #: Done once what waits now has been sent (or refused); flushes wait on it.
        self.sent: Future[None] | None = None
        self.draining = False
        self.drain: asyncio.Task[None] | None = None


class Outbox:
    """Sends on an event loop of its own (or the server's, when one is registered), from any thread."""

    def __init__(self) -> None:
        self._gates: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}
        self._lines: dict[asyncio.AbstractEventLoop, Line] = {}
        self._batches: dict[str, list[dict[str, Any]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._own_loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def use_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Send on ``loop`` (the process's server loop); None goes back to a private loop.

        The in-memory channel layer works only within the loop that reads it, so the embedded
        server and the tests register theirs.
        """
        self._loop = loop

    def send(self, channel: str, message: dict[str, Any], on_failure: OnFailure) -> None:
        """Send ``message``; ``on_failure`` runs in a thread of the outbox if the layer refuses it."""
        line = self._line()
        with self._lock:
            line.waiting.append((channel, message, on_failure))
            if line.sent is None:
                line.sent = Future()
                self._pending.add(line.sent)
            if line.draining:
                return  # the drain under way takes this message too
            line.draining = True
        line.loop.call_soon_threadsafe(self._start_drain, line)

    def send_now(self, channel: str, messages: list[dict[str, Any]]) -> tuple[int, BaseException | None]:
        """Send ``messages`` in order until the layer refuses one; how many went, and the refusal if any.

        Blocks the calling thread, which must not be the outbox's loop: the dispatcher learns at once
        that a channel is full and sends it nothing more.
        """
        future = asyncio.run_coroutine_threadsafe(self._send_in_order(channel, messages), self._target_loop())
        try:
            return future.result(timeout=SEND_NOW_TIMEOUT)
        except TimeoutError as error:  # a layer that hangs instead of refusing must not hold the pass
            future.cancel()
            return 0, error

    async def _send_in_order(self, channel: str, messages: list[dict[str, Any]]) -> tuple[int, BaseException | None]:
        return await layer_send.send_until_refused(get_channel_layer(), channel, messages, self._gate())

    def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Publish ``message`` to ``group``; group messages are at most once, so a failure is only logged."""
        self._submit(self._group_send(group, message))

    def publish(self, group: str, event: dict[str, Any], *, batch_type: str) -> None:
        """Publish ``event`` to ``group`` within BATCH_WINDOW, together with the others of that moment.

        Listeners get ``{"type": batch_type, "events": [...]}``: one group message instead of one per event.
        """
        with self._lock:
            batch = self._batches.setdefault(group, [])
            batch.append(event)
            if len(batch) > 1:
                return  # the publication of this batch is already on its way
        self._submit(self._publish_later(group, batch_type))

    async def _publish_later(self, group: str, batch_type: str) -> None:
        await asyncio.sleep(BATCH_WINDOW)
        with self._lock:
            events = self._batches.pop(group, [])
        await self._group_send(group, {"type": batch_type, "version": 1, "events": events})

    async def aflush(self, timeout: float = 5.0) -> bool:
        """``flush`` for a coroutine, which may run on the loop the outbox sends on (a worker's, when it stops).

        What is submitted while it waits (the events of the messages it sends) is waited for too.
        """
        deadline = time.monotonic() + timeout
        while True:
            self._take_over_closed()
            with self._lock:
                pending = [asyncio.wrap_future(future) for future in self._pending]
            remaining = deadline - time.monotonic()
            if not pending or remaining <= 0:
                return not pending
            _, not_done = await asyncio.wait(pending, timeout=remaining)
            if not_done:
                return False

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far is sent; False if ``timeout`` ran out first."""
        self._take_over_closed()
        with self._lock:
            pending = list(self._pending)
        _, not_done = wait_futures(pending, timeout=timeout)
        return not not_done

    def flush_at_exit(self) -> None:
        """Send what is still waiting before the process ends, for at most EXIT_FLUSH_TIMEOUT seconds."""
        if not self.flush(timeout=EXIT_FLUSH_TIMEOUT):
            logger.warning("Exiting with task messages unsent; the dispatcher will send them")

    def _start_drain(self, line: Line) -> None:
        line.drain = line.loop.create_task(self._drain(line))  # the loop keeps only a weak reference

    async def _drain(self, line: Line) -> None:
        """Send what waits on ``line``, round after round, until nothing has come for LINGER seconds."""
        while True:
            taken, sent = self._take(line, last=False)
            if not taken:
                # A steady stream (a loop of enqueues) sends its next messages before this ends: they
                # then go out together, and their senders need not wake this loop.
                await asyncio.sleep(LINGER)
                taken, sent = self._take(line, last=True)
                if not taken:
                    return
            try:
                await self._deliver(taken)
            except Exception:
                logger.exception("Task messages not handed to the layer; the dispatcher will send them again")
            finally:
                self._settle(sent)

    def _take(self, line: Line, *, last: bool) -> tuple[list[Send], Future[None] | None]:
        """What waits on ``line``, and the future of its sending; with ``last``, nothing ends the drain."""
        with self._lock:
            taken, line.waiting = line.waiting, []
            sent, line.sent = line.sent, None
            if last and not taken:
                line.draining = False
        return taken, sent

    async def _deliver(self, taken: list[Send]) -> None:
        layer = get_channel_layer()
        by_channel: dict[str, list[Send]] = {}
        for item in taken:
            by_channel.setdefault(item[0], []).append(item)
        if len(by_channel) == 1:
            [(channel, sends)] = by_channel.items()
            await self._send_to(layer, channel, sends)
        else:
            await asyncio.gather(*(self._send_to(layer, channel, sends) for channel, sends in by_channel.items()))

    async def _send_to(self, layer: Any, channel: str, sends: list[Send]) -> None:
        outcomes = await layer_send.send_each(layer, channel, [message for _, message, _ in sends], self._gate())
        refused = [(send, error) for send, error in zip(sends, outcomes, strict=True) if error is not None]
        if refused:
            try:
                await asyncio.get_running_loop().run_in_executor(None, report_refused, refused)
            except RuntimeError:  # the process is exiting (flush_at_exit): no thread is left for the database
                logger.warning(
                    "Task messages refused at exit; the dispatcher will send them after the message expiry",
                    extra={"refused": len(refused), "error": repr(refused[0][1])},
                )

    async def _group_send(self, group: str, message: dict[str, Any]) -> None:
        try:
            async with self._gate():
                await get_channel_layer().group_send(group, message)  # type: ignore[union-attr]
        except Exception as error:
            logger.debug("Event not published", extra={"group": group, "error": repr(error)})

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop not in self._gates:
            self._gates = {known: gate for known, gate in self._gates.items() if not known.is_closed()}
            self._gates[loop] = asyncio.Semaphore(MAX_CONCURRENT_SENDS)
        return self._gates[loop]

    def _submit(self, coroutine: Coroutine[Any, Any, None]) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._target_loop())
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _settle(self, sent: Future[None] | None) -> None:
        if sent is not None:
            sent.set_result(None)
            self._done(sent)

    def _settle_later(self, sent: Future[None], _: Future[None]) -> None:
        self._settle(sent)

    def _line(self) -> Line:
        loop = self._target_loop()
        line = self._lines.get(loop)
        if line is None:
            with self._lock:
                line = self._lines.setdefault(loop, Line(loop))
            self._take_over_closed()
        return line

    def _take_over_closed(self) -> None:
        """What still waits for a loop that closed goes out on the current loop instead."""
        if not any(line.loop.is_closed() for line in list(self._lines.values())):
            return
        line = self._line()
        with self._lock:
            for gone in [known for known in self._lines.values() if known.loop.is_closed()]:
                del self._lines[gone.loop]
                if gone.sent is None:
                    continue
                line.waiting += gone.waiting
                if line.sent is None:
                    line.sent = gone.sent
                else:
                    line.sent.add_done_callback(functools.partial(self._settle_later, gone.sent))
            if not line.waiting or line.draining:
                return
            line.draining = True
        line.loop.call_soon_threadsafe(self._start_drain, line)

    def _target_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is not None and not self._loop.is_closed():
            return self._loop
        with self._lock:
            if self._own_loop is None:
                self._own_loop = asyncio.new_event_loop()
                threading.Thread(target=self._own_loop.run_forever, name="retry-outbox", daemon=True).start()
                # The thread is a daemon, so it never holds a process up; it still runs while atexit does.
                atexit.register(self.flush_at_exit)
            return self._own_loop


outbox = Outbox()
