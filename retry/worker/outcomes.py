"""What a worker does once a task function has returned or raised: successes are written together, with those of
the tasks that started beside them; a failure, a refused value or a cancel is written on its own."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError

from retry import transitions
from retry.models import TaskRecord
from retry.worker import attempt, results
from retry.worker.batcher import Batcher

if TYPE_CHECKING:
    from retry.worker.runner import Running

logger = logging.getLogger("retry.worker.runner")

#: Seconds a success waits, at most, for the task functions called less than this long before to return, so that
#: the tasks of one claim share one write (and the claim of their slots' next tasks): a trivial task returns well
#: within it; a function still running past it is not waited for.
SIBLING_WAIT = 0.005


class Outcomes:
    """The outcome side of a Runner."""

    id: str
    running: dict[str, Running]
    _successes: Batcher[tuple[TaskRecord, Any, float], bool]
    _call_ended: asyncio.Event
    _stop_cancelled: Callable[..., Any]
    in_thread: Callable[..., Any]

    async def _finish(self, entry: Running, value: Any, error: BaseException | None) -> attempt.Finished:
        """Record the attempt's outcome: a success together with the others of the moment, a failure on its own."""
        entry.finishing = True
        if entry.cancellation.requested:
            return await self._stop_cancelled(entry)  # type: ignore[no-any-return]
        duration = time.monotonic() - entry.started
        if error is not None:
            return await self.in_thread(attempt.fail, entry.record, error, duration)  # type: ignore[no-any-return]
        try:
            value = results.storable(value)
        except (TypeError, ValueError) as bad_value:  # checked here, so it never joins another task's write
            refused = functools.partial(attempt.fail, retry=False)
            return await self.in_thread(refused, entry.record, bad_value, duration)  # type: ignore[no-any-return]
        await self._successes.submit((entry.record, value, duration))
        return attempt.Finished(entry.record)

    async def _succeed_many(self, successes: list[tuple[TaskRecord, Any, float]]) -> list[bool]:
        """Write ``successes`` in one statement; if the database refuses it, one by one, so one row harms no other."""
        if len(successes) > 1:
            try:
                return await self.in_thread(transitions.succeed_many, successes)  # type: ignore[no-any-return]
            except DatabaseError:
                logger.exception(
                    "A batch of successes was refused; writing them one by one", extra={"worker_id": self.id}
                )
        return [await self.in_thread(attempt.succeed_alone, *success) for success in successes]

    def _call_began(self, entry: Running) -> None:
        entry.calling = time.monotonic()

    def _call_returned(self, entry: Running) -> None:
        entry.calling = None
        self._call_ended.set()

    async def siblings(self) -> None:
        """Wait, SIBLING_WAIT at most, until no task function called less than SIBLING_WAIT ago is still running."""
        deadline = time.monotonic() + SIBLING_WAIT
        while True:
            now = time.monotonic()
            calls = [entry.calling for entry in self.running.values() if entry.calling is not None]
            if now >= deadline or all(now - called >= SIBLING_WAIT for called in calls):
                return
            self._call_ended.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(deadline - now):
                    await self._call_ended.wait()
