"""The task table's indexes: each transition writes only into the indexes of the state it enters, and the queries of
the dashboard, the purge and the limits still read indexes on a table of mostly finished rows (PostgreSQL)."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Q, Value
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from retry import housekeeping
from retry.models import TaskRecord
from retry.monitoring import stats

pytestmark = [pytest.mark.services, pytest.mark.django_db]

NOW = timezone.now()
#: A row as each transition leaves it; the fields the index conditions read.
STATES: dict[str, dict[str, Any]] = {
    "enqueued": {"status": "READY", "notified_at": NOW, "expires_at": None, "idempotency_key": None},
    "claimed": {"status": "RUNNING", "notified_at": NOW, "expires_at": None, "idempotency_key": None},
    "succeeded": {"status": "SUCCESSFUL", "notified_at": NOW, "finished_at": NOW, "idempotency_key": None},
}


def entered(state: dict[str, Any]) -> set[str]:
    """The indexes (the primary key aside) that a row in ``state`` has an entry in."""
    row = {"finished_at": None, "expires_at": None, **state}
    fields = {field.name: field for field in TaskRecord._meta.concrete_fields}
    against = {name: Value(value, output_field=fields[name]) for name, value in row.items()}
    conditioned = [*TaskRecord._meta.indexes, *TaskRecord._meta.constraints]
    return {index.name for index in conditioned if index.condition is None or Q(index.condition).check(against)}


def test_each_transition_writes_only_the_indexes_of_the_state_it_enters() -> None:
    # A claim and a success change the status, which every condition reads: neither is a HOT update, so each
    # writes an entry into every index its new row meets. A finished row, nearly all of a table, is in one.
    assert entered(STATES["enqueued"]) == {
        "retry_task_sent",
        "retry_task_backlog",
        "retry_task_path_unsucceeded",
        "retry_task_queue_unsucceeded",
    }
    assert entered(STATES["claimed"]) == {
        "retry_task_running",
        "retry_task_path_unsucceeded",
        "retry_task_queue_unsucceeded",
    }
    assert entered(STATES["succeeded"]) == {"retry_task_finished_at"}


# 98 rows in 100 successful, 1 failed, 1 waiting for a far retry, finished over the last 7 days, as in a busy week
# (benchmarks/dispatching.py).
FILL = """
INSERT INTO retry_taskrecord (id, task_path, queue, priority, args, kwargs, status, attempts, max_attempts, policy,
    time_limit, ignore_result, enqueued_at, run_after, worker_id, error_class, error_message, error_traceback,
    alone, recoveries, started_at, finished_at)
SELECT gen_random_uuid(), 'tests.tasks.record', 'default', 0, '[1]', '{}',
    CASE WHEN i %% 100 = 0 THEN 'READY' WHEN i %% 100 = 1 THEN 'FAILED' ELSE 'SUCCESSFUL' END,
    1, 5, '{}', 600, false, now() - interval '1 hour', now() + CASE WHEN i %% 100 = 0 THEN interval '1 hour'
    ELSE -interval '1 hour' END, '', '', '', '', false, 0, now() - make_interval(secs => i %% 86400),
    CASE WHEN i %% 100 = 0 THEN NULL ELSE now() - make_interval(secs => i %% 86400 * 7) END
FROM generate_series(1, %s) AS i
"""


def test_the_dashboard_purge_and_limits_read_indexes_not_the_whole_table() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the plans are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute(FILL, [50_000])
        cursor.execute("ANALYZE retry_taskrecord")
    with CaptureQueriesContext(connection) as captured:
        stats.snapshot()
        stats.backlog(NOW)
        list(TaskRecord.objects.running().filter(task_path="tests.tasks.record").values_list("pk"))
        list(TaskRecord.objects.failed().filter(task_path="tests.tasks.record").values_list("pk"))
        housekeeping.purge_finished(NOW + timedelta(hours=2), 500)  # the oldest 1 % are past their retention
    read = [query["sql"] for query in captured if "retry_taskrecord" in query["sql"]]
    assert len(read) >= 8
    with connection.cursor() as cursor:
        for sql in read:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(line for (line,) in cursor.fetchall())
            assert "Seq Scan on retry_taskrecord" not in plan, f"{sql}\n{plan}"
