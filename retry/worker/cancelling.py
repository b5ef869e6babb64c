"""Cancelling the tasks a worker runs: it looks for operators' requests, stops async tasks at once, and tells
plain ones through their context (attempt.RetryTaskContext).

A thread cannot be stopped: a plain task sees ``context.cancel_requested()`` turn true and is expected to
return. If it runs to its end regardless, whatever it returned or raised is discarded and it ends cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from retry import conf, transitions
from retry.worker.attempt import Finished

if TYPE_CHECKING:
    from retry.worker.runner import Running

logger = logging.getLogger("retry.worker.runner")


class Cancelling:
    """The cancel side of a Runner."""

    id: str
    stopping: bool
    running: dict[str, Running]
    in_thread: Callable[..., Any]

    async def watch_cancels(self) -> None:
        """Every dispatcher interval, look for operators' requests to stop the tasks this worker runs."""
        while not self.stopping:
            await asyncio.sleep(conf.get().DISPATCH_INTERVAL)
            try:
                await self.look_for_cancels()
            except Exception:
                logger.exception("Could not look for cancel requests; trying again", extra={"worker_id": self.id})

    async def look_for_cancels(self) -> int:
        """Stop the running tasks an operator asked to stop; how many were found."""
        asked = [task_id for task_id, entry in self.running.items() if not entry.cancellation.requested]
        found = await self.in_thread(transitions.cancel_requested, self.id, asked) if asked else []
        for task_id in found:
            self._cancel_running(task_id)
        return len(found)

    def _cancel_running(self, task_id: str) -> None:
        entry = self.running.get(task_id)
        if entry is None or entry.finishing:
            return  # gone, or ended already: its outcome is being written
        entry.cancellation.request()
        logger.warning("Cancel requested; stopping the task", extra=entry.record.log_fields())
        if (entry.waiting or entry.future is None) and entry.job is not None:
            entry.job.cancel()  # not started, or async: at once; a thread reads its flag

    async def _stop_cancelled(self, entry: Running) -> Finished:
        """End an attempt that was asked to stop, however it ended; its value or error is discarded."""
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()  # an operator's cancel ends here, it is not passed on
        if entry.future is None:
            how = "it was stopped at once"
        elif entry.cancellation.heeded:
            how = "it stopped at its cancel flag"
        else:
            how = "it ran to its end without looking at its cancel flag; its outcome is discarded"
        if not await self.in_thread(transitions.stop_cancelled, entry.record, how):
            logger.info("Asked to stop, but no longer this worker's to stop", extra=entry.record.log_fields())
        return Finished(entry.record)
