"""The worker's threads and their database connections: transitions tried again after a database restart."""

import contextlib
import threading
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
