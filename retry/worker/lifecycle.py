"""A worker's life: heartbeats that keep its claims alive, and a shutdown that loses no task."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from retry import conf, heartbeats, transitions
from retry.worker import threads

if TYPE_CHECKING:
    from retry.worker.runner import Running

logger = logging.getLogger("retry.worker.runner")


class Lifecycle:
    """The heartbeat and shutdown of a Runner."""

    id: str
    queues: list[str]
    lease: float
    concurrency: int
    stopping: bool
    releasing: bool
    running: dict[str, Running]
    _jobs: set[asyncio.Future[None]]
    _timers: dict[str, asyncio.TimerHandle | asyncio.Future[None]]
    _executor: ThreadPoolExecutor
    in_thread: Callable[..., Any]

    async def heartbeat(self) -> None:
        """Record this worker as alive and extend the claims of tasks still within their time limit."""
        now = time.monotonic()
        alive = [
            task_id
            for task_id, entry in self.running.items()
            if entry.waiting or now - entry.started < entry.record.time_limit
        ]
        await self.in_thread(transitions.renew_leases, self.id, alive, self.lease)
        await self.in_thread(
            heartbeats.beat, self.id, heartbeats.WORKER, self.queues, self.concurrency, list(self.running)
        )

    async def keep_alive(self) -> None:
        while not self.stopping:
            try:
                await self.heartbeat()
            except Exception:
                logger.exception("Heartbeat failed; retrying", extra={"worker_id": self.id})
            await asyncio.sleep(conf.get().HEARTBEAT_INTERVAL)

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop starting tasks, let running ones finish within ``grace`` seconds, hand back the rest uncharged."""
        self.stopping = True
        grace = conf.get().SHUTDOWN_GRACE if grace is None else grace
        deadline = time.monotonic() + grace
        while (self.running or self._jobs) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.releasing = True
        unfinished = [entry for entry in self.running.values() if not entry.finishing]  # the others are being written
        for entry in unfinished:
            if entry.future is None:
                continue  # async tasks are cancelled below and hand themselves back
            released = await self.in_thread(transitions.release, entry.record)
            logger.warning(
                "Still running at shutdown; handed back", extra={**entry.record.log_fields(), "released": released}
            )
        for entry in unfinished:
            if entry.job is not None:
                entry.job.cancel()  # an async task hands itself back; a thread's row was handed back above
        while self._jobs:  # claims under way see `releasing` and hand their task back; outcomes get written
            await asyncio.sleep(0.01)
        pending = list(self._timers)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await self.in_thread(transitions.forget_sent, pending)
        await self.in_thread(heartbeats.forget, self.id)
        await asyncio.get_running_loop().run_in_executor(None, threads.close_thread_connections, self._executor)
