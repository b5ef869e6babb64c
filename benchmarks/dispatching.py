"""Dispatcher scaling: one pass over a table of 1,000 to 1,000,000 rows of which 100 are due, and its plans."""

import statistics
import time
from typing import Any

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from benchmarks import systems

DUE = 100
#: Passes timed at each size after the first (which also purges).
PASSES = 7

# Most rows are finished within their retention period, as in a busy week; 1 in 100 waits for a far retry,
# 1 in 100 is a dead letter. The due rows are added separately.
FILL = """
INSERT INTO retry_taskrecord (id, task_path, queue, priority, args, kwargs, status, attempts, max_attempts, policy,
    time_limit, ignore_result, enqueued_at, run_after, worker_id, error_class, error_message, error_traceback,
    started_at, finished_at)
SELECT gen_random_uuid(), 'benchmarks.tasks.touch', 'default', 0, '[1]', '{}',
    CASE WHEN i %% 100 = 0 THEN 'READY' WHEN i %% 100 = 1 THEN 'FAILED' ELSE 'SUCCESSFUL' END,
    1, 5, '{}', 600, false, now() - interval '1 hour', now() + CASE WHEN i %% 100 = 0 THEN interval '1 hour'
    ELSE -interval '1 hour' END, '', '', '', '', now() - make_interval(secs => i %% 86400),
    CASE WHEN i %% 100 = 0 THEN NULL ELSE now() - make_interval(secs => i %% 86400) END
FROM generate_series(1, %s) AS i
"""
ADD_DUE = """
INSERT INTO retry_taskrecord (id, task_path, queue, priority, args, kwargs, status, attempts, max_attempts, policy,
    time_limit, ignore_result, enqueued_at, run_after, worker_id, error_class, error_message, error_traceback)
SELECT gen_random_uuid(), 'benchmarks.tasks.touch', 'default', 0, '[1]', '{}', 'READY', 0, 5, '{}', 600, false,
    now() - interval '1 minute', now() - interval '1 second', '', '', '', ''
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
    from retry.transport import outbox

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
