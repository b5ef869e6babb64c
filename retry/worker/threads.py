"""The worker's threads and their database connections: transitions tried again after a database restart."""

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import InterfaceError, OperationalError, connection, connections


def in_db_thread[T](function: Callable[..., T], *args: Any) -> T:
    """Call a transition, replacing a connection that a database restart broke and trying once more.

    Transitions are conditional updates, so a second try after a lost reply changes nothing twice.
    The connection is kept between calls (no health-check query each time) unless CONN_MAX_AGE is 0.
    """
    try:
        return function(*args)
    except (InterfaceError, OperationalError):
        if connection.is_usable():
            raise
        connection.close()
        return function(*args)
    finally:
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
