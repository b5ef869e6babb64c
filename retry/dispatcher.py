"""The dispatcher: the loop that makes channel messages and dead workers harmless.

Each pass sends due tasks that have no live message, recovers tasks whose worker stopped renewing
its lease, fails tasks past their start-by deadline and enqueues periodic tasks; every PURGE_EVERY it
sweeps old finished rows and the heartbeats of processes long gone (retry.housekeeping); once a minute has
ended it rolls that minute up for the charts (retry.monitoring.history), and a failure there stops nothing else.
A paused queue is sent nothing.
Several dispatchers may run on PostgreSQL (rows are taken with SKIP LOCKED); SQLite runs one.
A channel that refuses a message (full, or its Redis down) is sent nothing more in that pass.
"""

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from django.db import close_old_connections, connections

from retry import clock, conf, controls, heartbeats, housekeeping, schedules, transitions
from retry.messages import channel_for, run_message
from retry.monitoring import alarms, history
from retry.outbox import outbox
from retry.worker import runner

logger = logging.getLogger("retry.dispatcher")
#: Seconds between two housekeeping sweeps; a sweep that left old rows behind is followed by one next pass.
PURGE_EVERY = 60.0


class Dispatcher:
    def __init__(self) -> None:
        self.id = runner.make_worker_id()
        self.last_purge = float("-inf")
        self.history = history.Writer()
        #: Channels that refused a message in the last pass: this pass tries one message first.
        self.full: set[str] = set()

    def tick(self, now: datetime | None = None) -> dict[str, int]:
        """One pass; ``now`` defaults to the database's clock."""
        close_old_connections()
        now = now or clock.db_now()
        batch = conf.get().DISPATCH_BATCH
        report = {
            "expired": transitions.expire_overdue(now, batch),
            "recovered": transitions.recover_lost(now, batch),
            "scheduled": schedules.enqueue_due(now),
            "sent": self.send_due(now, batch),
            "purged": 0,
            "stale_heartbeats": 0,
        }
        if time.monotonic() - self.last_purge > PURGE_EVERY:
            swept = housekeeping.sweep(now)
            report["purged"], report["stale_heartbeats"] = swept.purged, swept.stale_heartbeats
            self.last_purge = float("-inf") if swept.more_to_purge else time.monotonic()
        report["rolled_up"] = self.history.roll_up(now)
        alarms.check(now)
        heartbeats.beat(self.id, heartbeats.DISPATCHER, [], 0, [])
        if any(report.values()):
            logger.info("Dispatcher pass", extra={"dispatcher_id": self.id, **report})
        return report

    def send_due(self, now: datetime, batch: int) -> int:
        """Send each queue's due tasks until its channel refuses one: a full channel costs a row a pass.

        A paused queue is sent nothing: its tasks stay unsent until it is resumed (retry.transitions.controls).
        """
        sent, full = 0, {}
        paused = controls.paused_queues()
        for queue in (queue for queue in conf.queues() if queue not in paused):
            channel = channel_for(queue)
            size = 1 if channel in self.full else batch
            while task_ids := transitions.take_due(now, size, queue):
                went, refusal = outbox.send_now(channel, [run_message(task_id) for task_id in task_ids])
                sent += went
                if refusal is not None:
                    # Workers take the rest from the database when they have free slots (backlog claims).
                    transitions.forget_sent(task_ids[went:])
                    full[channel] = repr(refusal)
                    break
                if len(task_ids) < size:
                    break
                size = batch
        self.full = set(full)
        if full:
            logger.warning(
                "Channels refused task messages; their due tasks wait for backlog claims and the next pass",
                extra={"dispatcher_id": self.id, "channels": full},
            )
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        """Pass after pass until ``stop`` is set; a failing database is waited out, not fatal."""
        logger.info("Dispatcher started", extra={"dispatcher_id": self.id})
        loop = asyncio.get_running_loop()
        thread = ThreadPoolExecutor(1, thread_name_prefix="retry-dispatcher")
        while not stop.is_set():
            try:
                await loop.run_in_executor(thread, self.tick)
            except Exception:
                logger.exception("Dispatcher pass failed; trying again", extra={"dispatcher_id": self.id})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=conf.get().DISPATCH_INTERVAL)
        await loop.run_in_executor(thread, heartbeats.forget, self.id)
        await loop.run_in_executor(thread, connections.close_all)
        thread.shutdown()
        logger.info("Dispatcher stopped", extra={"dispatcher_id": self.id})
