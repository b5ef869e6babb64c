"""Hands task messages and events to the channel layer without blocking the caller and without losing tasks.

A message carries only a task id. Whatever happens to it — the layer is full, Redis is down, the message
expires unread — the task row stays READY and the dispatcher sends it again.
"""

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from typing import Any

from channels.layers import get_channel_layer

from retry import conf

logger = logging.getLogger("retry.transport")


def channel_for(queue: str) -> str:
    return conf.get().CHANNEL_PREFIX + queue


def run_message(task_id: str) -> dict[str, str]:
    return {"type": "task.run", "id": task_id}


#: Sends under way at once: a burst must not take more connections than the layer's pool holds.
MAX_CONCURRENT_SENDS = 32
#: Seconds events wait to be published together in one group message.
BATCH_WINDOW = 0.05


class Outbox:
    """Sends on an event loop of its own (or the server's, when one is registered), from any thread."""

    def __init__(self) -> None:
        self._gates: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}
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

    def send(self, channel: str, message: dict[str, Any], on_failure: Callable[[BaseException], object]) -> None:
        """Send ``message``; ``on_failure`` runs in a thread of the outbox if the layer refuses it."""
        self._submit(self._send(channel, message, on_failure))

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
        """``flush`` for a coroutine, which may run on the outbox's own loop."""
        with self._lock:
            pending = [asyncio.wrap_future(future) for future in self._pending]
        if not pending:
            return True
        _, not_done = await asyncio.wait(pending, timeout=timeout)
        return not not_done

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far is sent; False if ``timeout`` ran out first."""
        with self._lock:
            pending = list(self._pending)
        _, not_done = wait_futures(pending, timeout=timeout)
        return not not_done

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop not in self._gates:
            self._gates = {known: gate for known, gate in self._gates.items() if not known.is_closed()}
            self._gates[loop] = asyncio.Semaphore(MAX_CONCURRENT_SENDS)
        return self._gates[loop]

    async def _send(self, channel: str, message: dict[str, Any], on_failure: Callable[[BaseException], object]) -> None:
        try:
            async with self._gate():
                await get_channel_layer().send(channel, message)  # type: ignore[union-attr]
        except Exception as error:  # ChannelFull, ConnectionError, TimeoutError, ...
            logger.warning(
                "Could not send task message; the dispatcher will send it again",
                extra={"task_id": message.get("id"), "channel": channel, "error": repr(error)},
            )
            await asyncio.get_running_loop().run_in_executor(None, on_failure, error)

    async def _group_send(self, group: str, message: dict[str, Any]) -> None:
        try:
            async with self._gate():
                await get_channel_layer().group_send(group, message)  # type: ignore[union-attr]
        except Exception as error:
            logger.debug("Event not published", extra={"group": group, "error": repr(error)})

    def _submit(self, coroutine: Coroutine[Any, Any, None]) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._target_loop())
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _target_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is not None and not self._loop.is_closed():
            return self._loop
        with self._lock:
            if self._own_loop is None:
                self._own_loop = asyncio.new_event_loop()
                threading.Thread(target=self._own_loop.run_forever, name="retry-outbox", daemon=True).start()
            return self._own_loop


outbox = Outbox()
