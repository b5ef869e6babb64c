"""Queue pauses and task limits as one process sees them: read from the database at most every TTL seconds.

A worker's claims consult this view, so the plain claim (no pause, no limit) costs no query more than before;
a pause or a new limit reaches every worker within TTL. The limits themselves are enforced by the claim's
statement with the rows as they are (retry.transitions.limits), never from this view.
"""

import threading
import time
from dataclasses import dataclass

from retry import conf
from retry.models import QueuePause, TaskLimit

#: Seconds a process trusts what it read of the pauses and limits.
TTL = 0.5


@dataclass(frozen=True)
class Controls:
    #: Queues whose tasks no worker claims and the dispatcher does not send.
    paused: frozenset[str] = frozenset()
    #: Task paths with a concurrency or rate limit.
    limited: frozenset[str] = frozenset()


_seen: dict[str, tuple[float, Controls]] = {}
_lock = threading.Lock()


def current() -> Controls:
    """The pauses and limits, as read at most TTL seconds ago from the task rows' database."""
    using = conf.database()
    seen = _seen.get(using)
    if seen is None or time.monotonic() - seen[0] > TTL:
        with _lock:
            limited = TaskLimit.objects.values_list("task_path", flat=True)
            fresh = Controls(frozenset(paused_queues()), frozenset(limited))
            _seen[using] = (time.monotonic(), fresh)
        return fresh
    return seen[1]


def paused_queues() -> set[str]:
    """The queues paused now, read from the database."""
    return set(QueuePause.objects.values_list("queue", flat=True))


def forget() -> None:
    """Read the pauses and limits again on next use (after this process changed them)."""
    _seen.clear()
