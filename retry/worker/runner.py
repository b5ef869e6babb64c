"""Runs claimed tasks inside a worker process: claim, call, let the policy decide, record the outcome."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.tasks.base import Task

from retry import conf, registry, transitions
from retry.models import TaskRecord
from retry.worker import attempt, cancelling, gate, threads
from retry.worker.batcher import Batcher
from retry.worker.claiming import Claiming
from retry.worker.lifecycle import Lifecycle
from retry.worker.outcomes import Outcomes

logger = logging.getLogger("retry.worker.runner")


@dataclass
class Running:
    record: TaskRecord
    started: float = field(default_factory=time.monotonic)
    future: asyncio.Future[Any] | None = None
    job: asyncio.Future[None] | None = None
    #: Claimed, waiting for its turn (gate.Gate): its lease is renewed, its time limit not yet running.
    waiting: bool = True
    #: When its task function was called, while the call is under way (outcomes.Outcomes.siblings).
    calling: float | None = None
    #: Its task function has returned or raised: its outcome is being written, so nothing hands it back or stops it.
    finishing: bool = False
    cancellation: attempt.Cancellation = field(default_factory=attempt.Cancellation)


def make_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Runner(Claiming, Outcomes, Lifecycle, cancelling.Cancelling):
    """Runs at most ``concurrency`` tasks at a time for one worker process, and keeps their claims alive.

    Its queues belong to one backend, whose OPTIONS set the concurrency and the lease (retry.conf.for_backend).
    """

    def __init__(
        self, *, queues: list[str] | None = None, concurrency: int | None = None, max_tasks: int | None = None
    ) -> None:
        self.id = make_worker_id()
        self.queues = queues or []
        settings = conf.for_backend(conf.backend_of(self.queues[0]) if self.queues else conf.default_backend())
        self.concurrency = concurrency or settings.CONCURRENCY
        self.lease = settings.LEASE
        #: Tasks this runner may still claim (None: no limit); at 0 it takes no more work.
        self.claims_left = max_tasks
        self.running: dict[str, Running] = {}
        self.stopping = False
        self.releasing = False  # the grace period is over: claimed tasks go back instead of running
        #: Threads of plain tasks still running past their time limit, outside the slots.
        self.overrunning = 0
        self._slots = asyncio.Semaphore(self.concurrency)
        self._capacity = asyncio.Event()
        self._capacity.set()
        # Near retries of this worker: waiting for their time, then for a slot.
        self._timers: dict[str, asyncio.TimerHandle | asyncio.Future[None]] = {}
        self._jobs: set[asyncio.Future[None]] = set()
        # The last claim found more due tasks than free slots: each freed slot takes the next one from the
        # database, and the listener pauses (the messages of a backlog name tasks that are claimed by then).
        self._backlog = False
        self._refill: asyncio.Future[None] | None = None
        self._executor = ThreadPoolExecutor(self.concurrency + 2, thread_name_prefix="retry-task")
        self._lane = threads.Lane(self._executor)
        self._gate = gate.Gate(lambda: len(self._jobs), self._update_capacity)
        # Claims and successes that arrive together share one statement.
        self._claims: Batcher[str | None, TaskRecord | None] = Batcher(self._claim_many)
        self._successes: Batcher[tuple[TaskRecord, Any, float], bool] = Batcher(self._succeed_many, hold=self.siblings)
        self._call_ended = asyncio.Event()

    async def wait_for_capacity(self) -> None:
        """Return once a slot is free and no backlog is being taken: a worker pulls no more messages than it starts."""
        await self._capacity.wait()

    async def start(self, task_id: str) -> None:
        """Run ``task_id`` in the background once a slot is free."""
        if self.stopping or self.claims_left == 0:
            await self.in_thread(transitions.forget_sent, [task_id])
            return
        if task_id in self.running:
            return  # a second message for a task this worker runs already
        await self._gate.wait_open()  # nothing is claimed beside a task that runs alone
        await self._slots.acquire()
        self._launch(self._run(task_id))

    def _launch(self, attempt: Coroutine[Any, Any, None]) -> None:
        """Run ``attempt`` in the slot its caller holds; the slot is freed when it ends."""
        job = asyncio.ensure_future(attempt)
        self._jobs.add(job)
        self._update_capacity()
        job.add_done_callback(self._done)

    async def _run(self, task_id: str) -> None:
        try:
            record = await self._claims.submit(task_id)
        except Exception:
            logger.exception("Could not claim task", extra={"task_id": task_id, "worker_id": self.id})
            return
        if record is None:
            logger.info("Message for a task that is not claimable; dropped", extra={"task_id": task_id})
            return
        await self._run_claimed(record)

    async def _run_claimed(self, record: TaskRecord) -> None:
        task_id = str(record.pk)
        try:
            if self.releasing:
                await self.in_thread(transitions.release, record)
                return
            entry = self.running[task_id] = Running(record, job=asyncio.current_task())
            try:
                async with self._gate.turn(alone=record.runs_alone):
                    if record.runs_alone:
                        await self.in_thread(transitions.begin_alone, record)
                    entry.started, entry.waiting = time.monotonic(), False
                    finished = await self._attempt(entry)
            except asyncio.CancelledError:
                if entry.waiting and (self.releasing or entry.cancellation.requested):  # before its turn came
                    await self.in_thread(transitions.release, record)  # a task asked to stop ends cancelled
                raise
            finally:
                self.running.pop(task_id, None)
            if finished is not None and finished.retry_delay is not None:
                self._start_later(finished.record, finished.retry_delay)
        except Exception:
            # The task's own errors were recorded by _attempt; this is the database or a bug here.
            # The row stays as it was and the dispatcher recovers it.
            logger.exception("Could not run task", extra={"task_id": task_id, "worker_id": self.id})

    async def _attempt(self, entry: Running) -> attempt.Finished | None:
        record = entry.record
        try:
            task = registry.load(record.task_path)
        except BaseException as error:  # a module that exits on import fails its tasks, not the worker
            return await self._finish(entry, None, error)
        if asyncio.iscoroutinefunction(task.func):
            return await self._attempt_async(entry, task)
        entry.future = self._lane.run(threads.in_db_thread, attempt.call_sync, record, task, entry.cancellation)
        self._call_began(entry)
        try:
            done, _ = await asyncio.wait((entry.future,), timeout=record.time_limit)  # the thread runs on regardless
        finally:
            self._call_returned(entry)
        if not done:
            return await self._overrun(entry, entry.future)
        value, raised = entry.future.result()
        return await self._finish(entry, value, raised)

    async def _overrun(self, entry: Running, thread: asyncio.Future[Any]) -> attempt.Finished:
        """A plain task past its time limit: a thread cannot be stopped, so it runs on outside the worker's slots.

        The attempt fails now with TimeoutError, as an async task's would; its retry waits at least until its
        lease would have ended, and whatever the thread returns later is discarded.
        """
        self._executor._max_workers += 1  # the pool lends the thread out: the other tasks keep their threads
        self.overrunning += 1
        thread.add_done_callback(self._overrun_ended)
        logger.warning(
            "Past its time limit; its thread runs on outside the worker's slots",
            extra={**entry.record.log_fields(), "overrunning": self.overrunning},
        )
        limit = entry.record.time_limit
        error = TimeoutError(f"ran past its time limit of {limit:g} s; its thread runs on, its late outcome discarded")
        at_least = functools.partial(attempt.fail, at_least=self.lease)
        return await self.in_thread(at_least, entry.record, error, time.monotonic() - entry.started)

    def _overrun_ended(self, thread: asyncio.Future[Any]) -> None:
        self._executor._max_workers -= 1
        self.overrunning -= 1
        logger.info(
            "A task's thread ended after its time limit; its outcome is discarded", extra={"worker_id": self.id}
        )

    async def _attempt_async(self, entry: Running, task: Task[..., Any]) -> attempt.Finished | None:
        record = entry.record
        try:
            context = await self.in_thread(attempt.context_for, record, task, entry.cancellation)
            self._call_began(entry)
            try:
                async with asyncio.timeout(record.time_limit):
                    value = await task.func(*context, *record.args, **record.kwargs)
            finally:
                self._call_returned(entry)
        except BaseException as error:
            # Whatever the task raised, SystemExit and KeyboardInterrupt included, is its own failure; only a
            # cancellation of this worker's making (a shutdown) leaves the attempt unrecorded here; an operator's
            # cancel is recorded by _finish.
            if not isinstance(error, asyncio.CancelledError) or not _being_cancelled() or entry.cancellation.requested:
                return await self._finish(entry, None, error)
            if self.releasing:
                await self.in_thread(transitions.release, record)
                return None
            raise
        return await self._finish(entry, value, None)

    def _start_later(self, record: TaskRecord, delay: float) -> None:
        """Run a near retry here, on time; the dispatcher covers a far one, or this process dying.

        Its row says its message is out (see transitions.rows.ready_again), so no other message races this one.
        """
        if delay > conf.get().LOCAL_RETRY_HORIZON:
            return
        task_id = str(record.pk)

        def start() -> None:
            starting = self._timers[task_id] = asyncio.ensure_future(self.start(task_id))
            starting.add_done_callback(lambda _: self._timers.pop(task_id, None))

        self._timers[task_id] = asyncio.get_running_loop().call_later(delay, start)

    def _done(self, job: asyncio.Future[None]) -> None:
        self._jobs.discard(job)
        self._slots.release()
        self._update_capacity()
        self._gate.notify()
        if self._backlog or self._held:
            self._take_backlog_soon()

    def _update_capacity(self) -> None:
        if self._slots.locked() or self._backlog or self._gate.closed or self.claims_left == 0:
            self._capacity.clear()
        else:
            self._capacity.set()

    def spent(self) -> bool:
        """Whether every task this runner may claim has been claimed and has ended."""
        return self.claims_left == 0 and not self._jobs and not self.running

    async def in_thread[T](self, function: Callable[..., T], *args: Any) -> T:
        return await self._lane.run(threads.in_db_thread, function, *args)  # type: ignore[no-any-return]


def _being_cancelled() -> bool:
    """Whether the running asyncio task was asked to stop (as opposed to raising CancelledError itself)."""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


_current: Runner | None = None


def current() -> Runner:
    """The process's runner, made on first use."""
    global _current
    if _current is None:
        _current = Runner()
    return _current


def install(runner: Runner | None) -> None:
    """Make ``runner`` the process's runner, and the one of its queues (a worker does this at start; tests reset)."""
    global _current
    _current = runner
    if runner is None:
        _by_queue.clear()
    else:
        _by_queue.update(dict.fromkeys(runner.queues, runner))


#: The runner of each queue, when one process runs several (one per backend, embedded).
_by_queue: dict[str, Runner] = {}


def serving(channel: str) -> Runner:
    """The runner of the queue ``channel`` carries, else the process's runner."""
    return _by_queue.get(channel.removeprefix(conf.get().CHANNEL_PREFIX)) or current()
