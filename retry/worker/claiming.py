"""How a worker claims: the tasks its messages name, and the backlog of its queues while it has free slots."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError

from retry import conf, transitions
from retry.models import TaskRecord
from retry.worker import gate
from retry.worker.batcher import Batcher

logger = logging.getLogger("retry.worker.runner")


class Claiming:
    """The claim side of a Runner: it shares the runner's slots, gate and capacity."""

    id: str
    queues: list[str]
    lease: float
    claims_left: int | None
    stopping: bool
    _slots: asyncio.Semaphore
    _gate: gate.Gate
    _backlog: bool
    #: The last claim came back short while task limits apply: the next task to end here tries again.
    _held: bool = False
    _held_timer: asyncio.TimerHandle | None = None
    _refill: asyncio.Future[None] | None
    _claims: Batcher[str | None, TaskRecord | None]
    _capacity: asyncio.Event
    _update_capacity: Callable[[], None]
    _launch: Callable[..., None]
    _run_claimed: Callable[..., Any]
    in_thread: Callable[..., Any]

    async def _claim_many(self, task_ids: list[str | None]) -> list[TaskRecord | None]:
        """Claim, in one statement, a due task for each slot its callers hold and for every other free slot.

        A message only says that work is due: a worker of queues takes the highest-priority due tasks of its
        queues, whichever tasks the messages named. A named task left out stays READY, and the claim was full,
        so the worker goes on taking the backlog as slots free. Each caller with an id gets a task or None; a
        None in ``task_ids`` holds no slot and only asks for the backlog.
        """
        named = [task_id for task_id in task_ids if task_id is not None]
        reserved = 0
        while not self.stopping and self.queues and not self._gate.closed and not self._slots.locked():
            if self.claims_left is not None and len(named) + reserved >= self.claims_left:
                break
            await self._slots.acquire()  # free, so this does not wait
            reserved += 1
        wanted, more = ([], len(named) + reserved) if self.queues else (named, 0)
        if self.claims_left is not None:
            wanted, more = wanted[: self.claims_left], min(more, self.claims_left)
        try:
            records = await self.in_thread(
                functools.partial(transitions.claim_many, queues=self.queues, more=more, lease=self.lease),
                wanted,
                self.id,
            )
        except BaseException:
            for _ in range(reserved):
                self._slots.release()
            self._backlog = False  # messages again, until a claim works
            self._update_capacity()
            raise
        left_out = set(named) - {str(record.pk) for record in records}
        if self.claims_left is not None:
            self.claims_left -= len(records)
        self._backlog = len(records) >= more > 0 and (reserved > 0 or bool(left_out))
        if wanted or more:
            self._note_held_back(records)
        spare = sorted(records, key=lambda record: (-record.priority, record.run_after), reverse=True)
        results = [spare.pop() if task_id is not None and spare else None for task_id in task_ids]
        for record in spare:
            self._launch(self._run_claimed(record))
        for _ in range(reserved - len(spare)):
            self._slots.release()
        self._update_capacity()
        if self.claims_left == 0 and left_out:
            # This worker takes no more tasks: the dispatcher sends their messages again now (or, should this
            # fail, after the message expiry).
            with contextlib.suppress(DatabaseError):
                await self.in_thread(transitions.forget_sent, sorted(left_out))
        return results

    def _note_held_back(self, records: list[TaskRecord]) -> None:
        """Tasks a limit held back stay READY, their messages spent: this worker takes them from the database
        when one of its tasks ends (a running slot freed) and, for a full rate limit, when its period lets the
        next one start; any worker with free slots also looks every dispatcher interval (look_for_work)."""
        claimed = records if isinstance(records, transitions.Claimed) else transitions.Claimed()
        self._held = claimed.held_back
        retry_in = claimed.retry_in if claimed.held_back else None
        if retry_in is not None and self._held_timer is None:
            self._held_timer = asyncio.get_running_loop().call_later(retry_in, self._retry_held)

    def _retry_held(self) -> None:
        self._held_timer = None
        self._take_backlog_soon()

    def _take_backlog_soon(self) -> None:
        if self._refill is None and not self.stopping and not self._gate.closed:
            self._refill = asyncio.ensure_future(self._take_backlog())

    async def _take_backlog(self) -> None:
        try:
            await self._claims.submit(None)
        except Exception:
            logger.exception("Could not claim from the backlog", extra={"worker_id": self.id})
        finally:
            self._refill = None

    async def look_for_work(self) -> None:
        """While slots are free, take due tasks from the database every dispatcher interval, message or not.

        Messages lost with the layer (a Redis restart, a FLUSHALL) or not sent while it was down delay nothing:
        a worker with free slots finds the due tasks of its queues itself, not after the message expiry.
        """
        while not self.stopping:
            await asyncio.sleep(conf.get().DISPATCH_INTERVAL)
            if self._capacity.is_set():
                self._take_backlog_soon()
