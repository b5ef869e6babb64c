"""The worker's threads and their database connections: transitions tried again after a database restart, and the
lane that hands calls to as few threads as keep them moving."""

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

from retry import conf


def in_db_thread[T](function: Callable[..., T], *args: Any) -> T:
    """Call a transition (or a task), replacing a connection that a database restart broke and trying once more.

    Transitions are conditional updates, so a second try after a lost reply changes nothing twice. The
    connections are those of the task rows' database and of ``default`` (a task's own queries); each is kept
    between calls (no health-check query each time) unless its CONN_MAX_AGE is 0.
    """
    used = [connections[alias] for alias in dict.fromkeys((conf.database(), DEFAULT_DB_ALIAS))]
    try:
        return function(*args)
    except (InterfaceError, OperationalError):
        broken = [connection for connection in used if connection.connection is not None and not connection.is_usable()]
        if not broken:
            raise
        for connection in broken:
            connection.close()
        return function(*args)
    finally:
        for connection in used:
            if connection.settings_dict["CONN_MAX_AGE"] == 0:
                connection.close()


def close_thread_connections(executor: ThreadPoolExecutor) -> None:
    """Close the database connection of every thread of ``executor``, then let the threads go.

    Each thread takes one closing job: the barrier holds them until all are busy with one. A thread still
    running a task past the grace period breaks the barrier and keeps its connection until it ends.
    """
    size = executor._max_workers
    barrier = threading.Barrier(size, timeout=1.0)

    def close() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        connections.close_all()

    for _ in range(size):
        executor.submit(close)
    executor.shutdown(wait=False)


#: Seconds a call may wait in the lane behind the calls its thread runs before another thread takes it; a call
#: running longer than this no longer counts as soon over.
SPREAD = 0.001


Call = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


class Lane:
    """Runs blocking calls on ``executor``'s threads, handing the calls that come together to one thread in turn.

    A thread woken for each call costs far more than a trivial task (the wake-up, and the threads then contending
    for the GIL); a thread that finds the next call waiting runs it at once. A call waits only behind calls that
    began less than SPREAD ago: when every thread of the lane is in a longer one, another thread takes it at once,
    and every SPREAD while calls wait, one more thread is started, up to the executor's size.
    """

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self._executor = executor
        self._waiting: collections.deque[Call] = collections.deque()
        self._lock = threading.Lock()
        self._threads = 0
        #: When the call each thread is running began, by thread.
        self._began: dict[int, float] = {}
        self._spreading: asyncio.TimerHandle | None = None

    def run(self, function: Callable[..., Any], *args: Any) -> "asyncio.Future[Any]":
        """Call ``function(*args)`` in a thread; its result (or exception) on this loop's future."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            self._waiting.append((function, args, future))
            now = time.monotonic()
            soon_free = self._threads - sum(1 for began in self._began.values() if now - began >= SPREAD)
            room = self._threads < self._executor._max_workers  # else the lane's threads take it as they free
        if room and soon_free <= 0:
            self._start(loop)
        elif room and self._spreading is None:
            self._spreading = loop.call_later(SPREAD, self._spread, loop)
        return future

    def _spread(self, loop: asyncio.AbstractEventLoop) -> None:
        """Calls still wait: the threads are busy with others, so one more thread takes them, up to the executor's
        size."""
        self._spreading = None
        if self._waiting and self._threads < self._executor._max_workers:
            self._start(loop)
            if self._waiting and self._threads < self._executor._max_workers:
                self._spreading = loop.call_later(SPREAD, self._spread, loop)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._threads += 1
        try:
            self._executor.submit(self._take, loop)
        except RuntimeError as error:  # the executor is shut down: no thread will take what waits, if none runs
            with self._lock:
                self._threads -= 1
                stranded = [self._waiting.popleft() for _ in range(len(self._waiting))] if not self._threads else []
            for _, _, future in stranded:
                _settle(future, None, error)

    def _take(self, loop: asyncio.AbstractEventLoop) -> None:
        """In a thread: run the waiting calls one after another until none waits."""
        thread = threading.get_ident()
        taking = True
        try:
            while True:
                with self._lock:  # the count drops under the same lock as the check: run() then starts a thread
                    self._began.pop(thread, None)
                    if not self._waiting:
                        self._threads -= 1
                        taking = False
                        return
                    function, args, future = self._waiting.popleft()
                    self._began[thread] = time.monotonic()
                if future.cancelled():  # its caller stopped waiting before it started: an executor would not start it
                    continue
                try:
                    result, error = function(*args), None
                except BaseException as raised:  # handed to the caller, as an executor does
                    result, error = None, raised
                loop.call_soon_threadsafe(_settle, future, result, error)
                del result, error
        finally:
            if taking:  # left by an error of its own (the loop closed)
                with self._lock:
                    self._threads -= 1
                    self._began.pop(thread, None)


def _settle(future: "asyncio.Future[Any]", result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
