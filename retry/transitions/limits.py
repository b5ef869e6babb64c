"""The claim under operators' controls: paused queues left out, and each task limit kept by the claim itself.

The claimer first locks every limit's row, so claims under limits take turns: the tasks running that one claim
counts include those every claim before it committed (PostgreSQL: the next statement sees them; SQLite: one
writer at a time). A rate limit remembers the starts of its period on its row; the claim that starts tasks of
that name appends their time. Tasks a limit holds back stay READY: the worker takes them later from the database.
"""

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Count, Q

from retry import clock, sql
from retry.models import TaskLimit, TaskRecord
from retry.transitions import rows

#: Shortest wait before a claim again tries a rate limit that had no room: a very short period is not a busy loop.
MIN_WAIT = 0.05


class Claimed(list[TaskRecord]):
    """The rows a claim took, and what its limits held back."""

    #: A limit had no room at the claim: tasks of its name may be waiting.
    held_back: bool = False
    #: Seconds until a rate limit that had no room allows its next start (None: no rate limit was full).
    retry_in: float | None = None


def claim(
    task_ids: list[str], worker_id: str, *, queues: Sequence[str], more: int, lease: float, paused: frozenset[str]
) -> Claimed:
    """READY and due → RUNNING for ``worker_id`` under the limits, leaving out the tasks of ``paused`` queues."""
    connection = connections[router.db_for_write(TaskRecord)]
    with transaction.atomic(using=connection.alias):
        limits = list(TaskLimit.objects.select_for_update().order_by("task_path"))
        now = _seconds(connection)
        rate_room = {limit.task_path: room_for_rate(limit, now) for limit in limits if limit.rate is not None}
        if connection.vendor == "postgresql":
            paths = [limit.task_path for limit in limits]
            rooms = [rate_room[path][0] if path in rate_room else None for path in paths]
            backlogs = [value for queue in queues for value in (queue, more)]
            params: list[Any] = [paths, [limit.concurrency for limit in limits], rooms]
            params += [sorted(set(task_ids)), sorted(paused), *backlogs, len(set(task_ids)) + more, worker_id, lease]
            claimed = Claimed(sql.claim(connection, params, len(queues), sql.controlled_claim_sql))
        else:
            claimed = Claimed(_claim_here(task_ids, worker_id, queues, more, lease, paused, limits, rate_room))
        _remember_starts(limits, claimed, now)
    # Short of what was asked while limits apply: what was left may be held back by one.
    claimed.held_back = len(claimed) < len(set(task_ids)) + more
    claimed.retry_in = _next_start(limits, now) if claimed.held_back else None
    return claimed


def room_for_rate(limit: TaskLimit, now: float) -> tuple[int, float]:
    """Starts ``limit`` allows at ``now`` (epoch seconds), and seconds until its oldest start leaves the period."""
    assert limit.rate is not None
    recent = [start for start in limit.recent_starts if start > now - limit.period][-limit.rate :]
    wait = recent[0] + limit.period - now if recent else 0.0
    return limit.rate - len(recent), max(wait, 0.0)


def _next_start(limits: list[TaskLimit], now: float) -> float | None:
    """Seconds until the first rate limit without room has room again; None if every one has room."""
    waits = []
    for limit in limits:
        if limit.rate is not None:
            room, wait = room_for_rate(limit, now)
            if room <= 0:
                waits.append(wait)
    return max(min(waits), MIN_WAIT) if waits else None


def _remember_starts(limits: list[TaskLimit], claimed: Claimed, now: float) -> None:
    started = Counter(task.task_path for task in claimed)
    changed = []
    for limit in limits:
        if limit.rate is not None and started[limit.task_path]:
            recent = [start for start in limit.recent_starts if start > now - limit.period]
            limit.recent_starts = (recent + [now] * started[limit.task_path])[-limit.rate :]
            changed.append(limit)
    TaskLimit.objects.bulk_update(changed, ["recent_starts"])


def _seconds(connection: Any) -> float:
    """The database's clock now, in epoch seconds (after the lock was obtained: not the transaction's start)."""
    if connection.vendor != "postgresql":
        return time.time()
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())::double precision")
        (now,) = cursor.fetchone()
    return float(now)


def _claim_here(
    task_ids: list[str],
    worker_id: str,
    queues: Sequence[str],
    more: int,
    lease: float,
    paused: frozenset[str],
    limits: list[TaskLimit],
    rate_room: dict[str, tuple[int, float]],
) -> list[TaskRecord]:
    """The claim on SQLite, whose one writer at a time makes the count and the claim one step."""
    running = dict(
        TaskRecord.objects.running()
        .filter(task_path__in=[limit.task_path for limit in limits])
        .values_list("task_path")
        .annotate(Count("pk"))
        .order_by()
    )
    room: dict[str, int] = {}
    for limit in limits:
        rooms = [limit.concurrency - running.get(limit.task_path, 0)] if limit.concurrency is not None else []
        rooms += [rate_room[limit.task_path][0]] if limit.task_path in rate_room else []
        room[limit.task_path] = min(rooms)
    now = clock.now_plus(0)
    claimable = rows.claimable(now).exclude(task_path__in=[path for path, left in room.items() if left <= 0])
    wanted = (Q(pk__in=task_ids) & ~Q(queue__in=paused)) | Q(queue__in=queues)
    candidates = claimable.filter(wanted).order_by("-priority", "run_after").values_list("pk", "task_path")
    chosen = []
    for pk, path in candidates[: len(set(task_ids)) + more]:
        if path in room:
            if room[path] <= 0:
                continue
            room[path] -= 1
        chosen.append(pk)
    if not chosen:
        return []
    return rows.update_returning(claimable.filter(pk__in=chosen), **rows.claimed_by(worker_id, lease, now))
