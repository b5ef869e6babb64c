"""The charts' history, written by the dispatcher: the attempts of each minute that ended, rolled up into Rollup
rows per queue and per task name, at minute and at hour resolution, and purged past their retention.

A pass rolls up only the minutes since the last one: it locks the RollupMark row (SKIP LOCKED, so a second
dispatcher waits for nothing), reads the attempts that ended in those minutes through their ``finished_at``
index, and adds what it found to the rows of their buckets. A minute is rolled up SETTLE seconds after it
ended, so attempts committed a moment late still count. Starts count in the minute they began, once their
attempt has ended; outcomes and percentiles in the minute the attempt ended.
"""

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Min, QuerySet, Window
from django.db.models.functions import Coalesce, Greatest, RowNumber, TruncMinute

from retry import conf
from retry.models import Outcome, Rollup, RollupMark, TaskAttempt
from retry.models.rollups import HOUR, MINUTE
from retry.monitoring import stats
from retry.monitoring.stats import Seconds

logger = logging.getLogger("retry.monitoring.history")

#: The RollupMark row of the attempts' roll-up.
MARK = "attempts"
#: Time after a minute ends before it is rolled up: an attempt recorded later than this is not counted.
SETTLE = timedelta(seconds=10)
#: Minutes one pass rolls up at most: after a dispatcher was down, the history catches up pass after pass.
MINUTES_PER_PASS = 10
#: How far back the first pass ever starts.
BACKFILL = timedelta(hours=1)
#: How long rows are kept, by resolution; older minutes are not rolled up either.
KEEP = {MINUTE: timedelta(days=2), HOUR: timedelta(days=30)}
#: The attempts' outcomes counted, and the counter of each.
COUNTED = {Outcome.SUCCEEDED: "succeeded", Outcome.RETRIED: "retried", Outcome.FAILED: "failed", Outcome.LOST: "lost"}
#: Attempts whose duration is a run time (a lost attempt ended when its lease ran out; a released one, at shutdown).
RAN = (Outcome.SUCCEEDED, Outcome.RETRIED, Outcome.FAILED)
SCOPES = {Rollup.Scope.QUEUE: "task__queue", Rollup.Scope.TASK: "task__task_path"}
COUNTERS = ("started", "succeeded", "retried", "failed", "lost")
PEAKS = ("ready", "oldest_ready_age", "wait_p95", "run_p95")

Key = tuple[str, str, int, datetime]


def floor(moment: datetime, resolution: int) -> datetime:
    """The start of the bucket of ``resolution`` seconds that holds ``moment``, in UTC."""
    moment = moment.astimezone(UTC).replace(microsecond=0)
    return moment - timedelta(seconds=int(moment.timestamp()) % resolution)


class Writer:
    """The dispatcher's roll-up: it asks the database only once a minute has ended since the last pass."""

    def __init__(self) -> None:
        self.done_until: datetime | None = None

    def roll_up(self, now: datetime) -> int:
        """Roll up the minutes that ended since the last pass; returns how many. A failure is logged, not raised:
        the dispatcher's other duties go on, and the next pass tries again."""
        end = floor(now - SETTLE, MINUTE)
        if self.done_until is not None and end <= self.done_until:
            return 0
        try:
            minutes, until = roll_up(now, end)
        except Exception:
            logger.exception("Rolling up the charts' history failed; the next pass tries again")
            return 0
        if until is not None and until >= end:
            self.done_until = until
        return minutes


def roll_up(now: datetime, end: datetime) -> tuple[int, datetime | None]:
    """Roll up at most MINUTES_PER_PASS minutes before ``end``; how many, and the mark after (None: another
    dispatcher holds it)."""
    with transaction.atomic(using=conf.database()):
        mark = claim(end)
        if mark is None:
            return 0, None
        start = max(mark.until, end - KEEP[MINUTE])
        if start >= end:
            return 0, mark.until
        stop = min(end, start + timedelta(minutes=MINUTES_PER_PASS))
        buckets = Buckets()
        count(buckets, start, stop)
        add_percentiles(buckets, start, stop)
        if stop == end:
            sample_backlog(buckets, now, stop - timedelta(minutes=1))
        buckets.save()
        RollupMark.objects.filter(name=MARK).update(until=stop)
        purge(now)
    return round((stop - start).total_seconds() / MINUTE), stop


def claim(end: datetime) -> RollupMark | None:
    """The mark, locked until the pass commits; None while another dispatcher holds it."""
    marks = RollupMark.objects.select_for_update(skip_locked=True).filter(name=MARK)
    mark = marks.first()
    if mark is None and not RollupMark.objects.filter(name=MARK).exists():
        RollupMark.objects.bulk_create([RollupMark(name=MARK, until=end - BACKFILL)], ignore_conflicts=True)
        mark = marks.first()
    return mark


def purge(now: datetime) -> int:
    """Remove the rows past their retention (KEEP)."""
    return sum(
        Rollup.objects.filter(resolution=resolution, bucket__lt=floor(now, resolution) - keep).delete()[0]
        for resolution, keep in KEEP.items()
    )


@dataclass
class Delta:
    """What one pass adds to one row: counts to add, and values that replace a lower one."""

    counts: Counter[str] = field(default_factory=Counter)
    peaks: dict[str, float] = field(default_factory=dict)


class Buckets:
    """The pass's changes to the rows, by (scope, name, resolution, bucket); each goes to its minute and its hour."""

    def __init__(self) -> None:
        self.deltas: defaultdict[Key, Delta] = defaultdict(Delta)

    def keys(self, scope: str, name: str, at: datetime) -> list[Key]:
        return [(scope, name, resolution, floor(at, resolution)) for resolution in (MINUTE, HOUR)]

    def add(self, row: dict[str, Any], counter: str, n: int) -> None:
        for scope, column in SCOPES.items():
            for key in self.keys(scope, row[column], row["at"]):
                self.deltas[key].counts[counter] += n

    def peak(self, scope: str, name: str, at: datetime, **values: float) -> None:
        for key in self.keys(scope, name, at):
            peaks = self.deltas[key].peaks
            for column, value in values.items():
                peaks[column] = max(value, peaks.get(column, value))

    def save(self) -> None:
        """Merge the changes into the rows as they are: one read, one upsert (the mark keeps other writers out)."""
        if not self.deltas:
            return
        names, buckets = {key[1] for key in self.deltas}, {key[3] for key in self.deltas}
        found = {
            (row.scope, row.name, row.resolution, row.bucket): row
            for row in Rollup.objects.filter(name__in=names, bucket__in=buckets)
        }
        rows = [merged(found.get(key), key, delta) for key, delta in self.deltas.items()]
        Rollup.objects.bulk_create(
            rows,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["scope", "resolution", "name", "bucket"],
            update_fields=[*COUNTERS, *PEAKS],
        )


def merged(row: Rollup | None, key: Key, delta: Delta) -> Rollup:
    scope, name, resolution, bucket = key
    values = {column: getattr(row, column) for column in (*COUNTERS, *PEAKS)} if row else {}
    for counter in COUNTERS:
        values[counter] = values.get(counter, 0) + delta.counts[counter]
    for peak, value in delta.peaks.items():
        values[peak] = value if values.get(peak) is None else max(values[peak], value)
    return Rollup(scope=scope, name=name, resolution=resolution, bucket=bucket, **values)


def ended(start: datetime, stop: datetime) -> QuerySet[TaskAttempt]:
    """The attempts that ended in [start, stop), read through their finished_at index."""
    return TaskAttempt.objects.filter(finished_at__gte=start, finished_at__lt=stop).order_by()


def minute(column: str) -> TruncMinute:
    return TruncMinute(column, tzinfo=UTC)


def count(buckets: Buckets, start: datetime, stop: datetime) -> None:
    """Outcomes in the minute each attempt ended, starts in the minute it began: two grouped reads."""
    groups = ("task__queue", "task__task_path", "at", "outcome")
    outcomes = ended(start, stop).filter(outcome__in=COUNTED).annotate(at=minute("finished_at"))
    for row in outcomes.values(*groups).annotate(n=Count("pk")):
        buckets.add(row, COUNTED[row["outcome"]], row["n"])
    starts = ended(start, stop).annotate(at=minute("started_at")).values(*groups[:3]).annotate(n=Count("pk"))
    for row in starts:
        buckets.add(row, "started", row["n"])


def add_percentiles(buckets: Buckets, start: datetime, stop: datetime) -> None:
    """Wait and run-time p95 of each queue and task name per minute, computed by the database."""
    due = Greatest("task__enqueued_at", Coalesce("task__requested_run_after", "task__enqueued_at"))
    first_starts = ended(start, stop).filter(number=1).annotate(value=Seconds(F("started_at"), due))
    runs = ended(start, stop).filter(outcome__in=RAN).annotate(value=Seconds(F("finished_at"), F("started_at")))
    for scope, column in SCOPES.items():
        for label, at, value in p95(first_starts, column):
            buckets.peak(scope, label, at, wait_p95=max(value, 0.0))
        for label, at, value in p95(runs, column):
            buckets.peak(scope, label, at, run_p95=max(value, 0.0))


def p95(attempts: QuerySet[TaskAttempt], column: str) -> Any:
    """(name, minute, value) per group: the nearest-rank 95th percentile of ``value``, the ceil(0.95 n)-th
    smallest of the group's n. Window functions, so SQLite and PostgreSQL agree and one row per group comes back."""
    groups = [F("label"), F("at")]
    ranked = attempts.annotate(label=F(column), at=minute("finished_at")).annotate(
        rank=Window(RowNumber(), partition_by=groups, order_by=F("value").asc()),
        size=Window(Count("pk"), partition_by=groups),
    )
    return ranked.filter(rank=(F("size") * 95 + 99) / 100).values_list("label", "at", "value")


def sample_backlog(buckets: Buckets, now: datetime, at: datetime) -> None:
    """The due READY tasks of each queue and task name as of ``now``, in the minute ``at``."""
    rows = stats.due(now).values("queue", "task_path").annotate(ready=Count("pk"), oldest=Min("run_after")).order_by()
    queues: dict[str, tuple[int, datetime]] = {}
    for row in rows:
        age = max((now - row["oldest"]).total_seconds(), 0.0)
        buckets.peak(Rollup.Scope.TASK, row["task_path"], at, ready=row["ready"], oldest_ready_age=age)
        ready, oldest = queues.get(row["queue"], (0, row["oldest"]))
        queues[row["queue"]] = (ready + row["ready"], min(oldest, row["oldest"]))
    for queue, (ready, oldest) in queues.items():
        age = max((now - oldest).total_seconds(), 0.0)
        buckets.peak(Rollup.Scope.QUEUE, queue, at, ready=ready, oldest_ready_age=age)
