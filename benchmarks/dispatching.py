"""Dispatcher scaling: one pass over a table of 1,000 to 1,000,000 rows of which 100 are due, and its plans;
and one pass over 100 to 100,000 due rows behind a full channel."""

import statistics
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection, transaction
from django.db.backends.signals import connection_created
from django.test.utils import CaptureQueriesContext, override_settings

from benchmarks import systems

DUE = 100
#: Passes timed at each size after the first (which also purges).
PASSES = 7
#: Messages the full channel holds in the full-channel benchmark.
FULL_CAPACITY = 100

# Most rows are finished within their retention period, as in a busy week; 1 in 100 waits for a far retry,
# 1 in 100 is a dead letter. The due rows are added separately.
FILL = """
INSERT INTO retry_taskrecord (id, task_path, queue, priority, args, kwargs, status, attempts, max_attempts, policy,
    time_limit, ignore_result, enqueued_at, run_after, worker_id, error_class, error_message, error_traceback,
    alone, recoveries, started_at, finished_at)
SELECT gen_random_uuid(), 'benchmarks.tasks.touch', 'default', 0, '[1]', '{}',
    CASE WHEN i %% 100 = 0 THEN 'READY' WHEN i %% 100 = 1 THEN 'FAILED' ELSE 'SUCCESSFUL' END,
    1, 5, '{}', 600, false, now() - interval '1 hour', now() + CASE WHEN i %% 100 = 0 THEN interval '1 hour'
    ELSE -interval '1 hour' END, '', '', '', '', false, 0, now() - make_interval(secs => i %% 86400),
    CASE WHEN i %% 100 = 0 THEN NULL ELSE now() - make_interval(secs => i %% 86400) END
FROM generate_series(1, %s) AS i
"""
ADD_DUE = """
INSERT INTO retry_taskrecord (id, task_path, queue, priority, args, kwargs, status, attempts, max_attempts, policy,
    time_limit, ignore_result, enqueued_at, run_after, worker_id, error_class, error_message, error_traceback,
    alone, recoveries)
SELECT gen_random_uuid(), 'benchmarks.tasks.touch', 'default', 0, '[1]', '{}', 'READY', 0, 5, '{}', 600, false,
    now() - interval '1 minute', now() - interval '1 second', '', '', '', '', false, 0
FROM generate_series(1, %s)
"""


def measure(sizes: list[int]) -> dict[str, Any]:
    systems.Ours().reset()
    rows, results = 0, []
    with connection.cursor() as cursor:
        cursor.execute(ADD_DUE, [DUE])
        rows = DUE
    for size in sizes:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(FILL, [size - rows])
            cursor.execute("ANALYZE retry_taskrecord")
        rows = size
        results.append({"rows": size, "fill_seconds": round(time.perf_counter() - started, 1), **time_ticks()})
    return {"due": DUE, "sizes": results, "plans": explain_tick()}


def time_ticks() -> dict[str, Any]:
    from retry.dispatcher import Dispatcher
    from retry.outbox import outbox

    dispatcher = Dispatcher()
    seconds, sent = [], []
    for _ in range(PASSES + 1):
        started = time.perf_counter()
        report = dispatcher.tick()
        seconds.append(time.perf_counter() - started)
        sent.append(report["sent"])
        outbox.flush()
        make_due_again()
    return {
        "sent_per_tick": sorted(set(sent)),
        "first_tick_ms": round(seconds[0] * 1000, 2),
        "tick_ms_median": round(statistics.median(seconds[1:]) * 1000, 2),
        "tick_ms_max": round(max(seconds[1:]) * 1000, 2),
    }


def make_due_again() -> None:
    from retry.models import TaskRecord

    TaskRecord.objects.filter(status="READY", run_after__lt=time_now()).update(notified_at=None)


def time_now() -> Any:
    from django.utils import timezone

    return timezone.now()


def explain_tick() -> list[dict[str, str]]:
    """EXPLAIN ANALYZE of every statement of one pass on the task table, each rolled back after."""
    from retry.dispatcher import Dispatcher

    dispatcher = Dispatcher()
    with CaptureQueriesContext(connection) as captured:
        dispatcher.tick()
    make_due_again()
    plans = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if '"retry_taskrecord"' not in sql or not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            transaction.set_rollback(True)
        plans.append({"sql": sql, "plan": plan})
    return plans


def measure_full_channel(dues: list[int], passes: int = 3) -> dict[str, Any]:
    """Passes over ``dues`` due rows whose channel is full: time (pass plus the outbox's refusals) and statements."""
    layers: dict[str, dict[str, Any]] = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "capacity": FULL_CAPACITY}
    results = []
    with override_settings(CHANNEL_LAYERS=layers), StatementCounter() as statements:
        for due in dues:
            systems.Ours().reset()
            with connection.cursor() as cursor:
                cursor.execute(ADD_DUE, [due])
                cursor.execute("ANALYZE retry_taskrecord")
            fill_channel("default", FULL_CAPACITY)
            results.append({"due": due, **time_full_passes(passes, statements)})
    return {"capacity": FULL_CAPACITY, "passes": passes, "sizes": results}


def time_full_passes(passes: int, statements: "StatementCounter") -> dict[str, Any]:
    from retry.dispatcher import Dispatcher
    from retry.outbox import outbox

    dispatcher = Dispatcher()
    seconds, counts, sent = [], [], []
    for _ in range(passes):
        before = statements.count
        started = time.perf_counter()
        report = dispatcher.tick()
        outbox.flush(timeout=600)  # refusals the outbox hands back count as part of the pass
        seconds.append(time.perf_counter() - started)
        counts.append(statements.count - before)
        sent.append(report["sent"])
    return {
        "sent_per_pass": sorted(set(sent)),
        "pass_ms_median": round(statistics.median(seconds) * 1000, 2),
        "statements_median": statistics.median(counts),
    }


def fill_channel(queue: str, count: int) -> None:
    from channels.layers import get_channel_layer

    from retry.messages import channel_for

    async def send() -> None:
        layer = get_channel_layer()
        for _ in range(count):
            await layer.send(channel_for(queue), {"type": "filler"})  # type: ignore[union-attr]

    async_to_sync(send)()


class StatementCounter:
    """Counts the SQL statements of every database connection, whichever thread opens it."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> "StatementCounter":
        connection_created.connect(self._watch)
        connection.ensure_connection()
        connection.execute_wrappers.append(self._counted)
        return self

    def __exit__(self, *exc: object) -> None:
        connection_created.disconnect(self._watch)
        connection.execute_wrappers.remove(self._counted)

    def _watch(self, sender: object, connection: Any, **kwargs: Any) -> None:
        if self._counted not in connection.execute_wrappers:  # a wrapper reconnecting keeps its list
            connection.execute_wrappers.append(self._counted)

    def _counted(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)
