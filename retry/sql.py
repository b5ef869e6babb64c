"""The hot path's SQL, named: the statements that claim tasks and record successes on PostgreSQL.

Each does in one round trip what the ORM would take several for; the transitions that run them
(retry.transitions.attempts) hold the rules, this module the statements.
"""

import functools
import json
import uuid
from collections.abc import Callable
from typing import Any

from retry.models import TaskRecord

#: One queue's backlog, in the order of its index (retry_task_backlog), so a pass reads ``LIMIT`` rows
#: however long the backlog is. Rows locked by another transaction are skipped, never waited for: another
#: worker is claiming them, or the dispatcher is sending their message again.
BACKLOG_SQL = """backlog_{number} AS (
    SELECT id, priority, run_after FROM retry_taskrecord
    WHERE status = 'READY' AND queue = %s AND run_after <= STATEMENT_TIMESTAMP()
        AND (expires_at IS NULL OR expires_at > STATEMENT_TIMESTAMP())
    ORDER BY priority DESC, run_after
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)"""


CLAIM_SQL = """
WITH named AS (
    SELECT id FROM retry_taskrecord
    WHERE id = ANY(%s::uuid[]) AND status = 'READY' AND run_after <= STATEMENT_TIMESTAMP()
        AND (expires_at IS NULL OR expires_at > STATEMENT_TIMESTAMP())
    FOR UPDATE SKIP LOCKED
){backlogs}, backlog AS (
    {backlog}
), best AS (
    SELECT id FROM backlog ORDER BY priority DESC, run_after LIMIT %s
)
UPDATE retry_taskrecord
SET status = 'RUNNING', attempts = attempts + 1, alone = false, worker_id = %s,
    lease_until = STATEMENT_TIMESTAMP() + make_interval(secs => %s),
    started_at = COALESCE(started_at, STATEMENT_TIMESTAMP()), last_attempted_at = STATEMENT_TIMESTAMP()
WHERE id IN (SELECT id FROM named UNION SELECT id FROM best)
RETURNING {columns}
"""


@functools.cache
def claim_sql(queues: int) -> str:
    """The claim statement for a worker taking the backlog of ``queues`` queues (0: only the named tasks)."""
    backlogs = "".join(",\n" + BACKLOG_SQL.format(number=number) for number in range(queues))
    backlog = "\n    UNION ALL\n    ".join(f"SELECT * FROM backlog_{number}" for number in range(queues))
    columns = ", ".join(str(field.column) for field in TaskRecord._meta.concrete_fields)
    return CLAIM_SQL.format(
        backlogs=backlogs,
        backlog=backlog or "SELECT NULL::uuid AS id, 0 AS priority, NULL::timestamptz AS run_after WHERE false",
        columns=columns,
    )


def claim(
    connection: Any, params: list[Any], queues: int, statement: Callable[[int], str] = claim_sql
) -> list[TaskRecord]:
    """Run ``statement`` (CLAIM_SQL, or controlled_claim_sql) with the backlogs of ``queues`` queues; the rows it
    claimed, as TaskRecords."""
    with connection.cursor() as cursor:
        cursor.execute(statement(queues), params)
        return [record_from_row(connection, row) for row in cursor.fetchall()]


#: The claim under operators' controls (retry.transitions.limits), run once the claimer holds the limits' rows,
#: so the running tasks it counts are those committed by every claim before it. ``lim`` gives each limited task
#: path its room: its concurrency less the tasks of that path running now, and the starts its rate allows (both
#: optional); a path without room is left out, and no path gets more candidates than its room. An attempt starts at
#: clock_timestamp(), after the statement's snapshot: every attempt this claim counted as ended ended before it.
CONTROLLED_CLAIM_SQL = """
WITH lim AS (
    SELECT given.task_path, LEAST(
        given.concurrency - (SELECT count(*) FROM retry_taskrecord AS running
                             WHERE running.status = 'RUNNING' AND running.task_path = given.task_path),
        given.rate_room) AS room
    FROM unnest(%s::text[], %s::integer[], %s::integer[]) AS given(task_path, concurrency, rate_room)
), named AS (
    SELECT id, priority, run_after, task_path FROM retry_taskrecord
    WHERE id = ANY(%s::uuid[]) AND status = 'READY' AND run_after <= STATEMENT_TIMESTAMP()
        AND (expires_at IS NULL OR expires_at > STATEMENT_TIMESTAMP()) AND queue <> ALL(%s::text[])
        AND task_path NOT IN (SELECT task_path FROM lim WHERE room <= 0)
    FOR UPDATE SKIP LOCKED
){backlogs}, candidates AS (
    {candidates}
), ranked AS (
    SELECT id, priority, run_after, lim.room,
        row_number() OVER (PARTITION BY task_path ORDER BY priority DESC, run_after) AS rank
    FROM candidates LEFT JOIN lim USING (task_path)
), best AS (
    SELECT id FROM ranked WHERE room IS NULL OR rank <= room ORDER BY priority DESC, run_after LIMIT %s
)
UPDATE retry_taskrecord
SET status = 'RUNNING', attempts = attempts + 1, alone = false, worker_id = %s,
    lease_until = STATEMENT_TIMESTAMP() + make_interval(secs => %s),
    started_at = COALESCE(started_at, clock_timestamp()), last_attempted_at = clock_timestamp()
WHERE id IN (SELECT id FROM best)
RETURNING {columns}
"""
#: BACKLOG_SQL with the task path, leaving out the paths without room.
CONTROLLED_BACKLOG_SQL = BACKLOG_SQL.replace("run_after FROM", "run_after, task_path FROM").replace(
    "\n    ORDER BY", "\n        AND task_path NOT IN (SELECT task_path FROM lim WHERE room <= 0)\n    ORDER BY"
)


@functools.cache
def controlled_claim_sql(queues: int) -> str:
    """CONTROLLED_CLAIM_SQL for a worker taking the backlog of ``queues`` queues (0: only the named tasks)."""
    backlogs = "".join(",\n" + CONTROLLED_BACKLOG_SQL.format(number=number) for number in range(queues))
    selects = ["SELECT * FROM named", *(f"SELECT * FROM backlog_{number}" for number in range(queues))]
    candidates = "\n    UNION\n    ".join(selects)
    columns = ", ".join(str(field.column) for field in TaskRecord._meta.concrete_fields)
    return CONTROLLED_CLAIM_SQL.format(backlogs=backlogs, candidates=candidates, columns=columns)


def record_from_row(connection: Any, row: tuple[Any, ...]) -> TaskRecord:
    """A row of CLAIM_SQL's RETURNING as a TaskRecord (JSON columns come from the database as text)."""
    fields = TaskRecord._meta.concrete_fields
    values = [
        field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
        for field, value in zip(fields, row, strict=True)
    ]
    return TaskRecord.from_db(connection.alias, [field.attname for field in fields], values)


#: The hot path on PostgreSQL: the fenced updates and the attempts' history rows in one round trip.
SUCCEED_SQL = """
WITH done AS (
    UPDATE retry_taskrecord AS task
    SET status = 'SUCCESSFUL', return_value = NULLIF(result.return_value, 'null'::jsonb),
        finished_at = STATEMENT_TIMESTAMP(), lease_until = NULL
    FROM jsonb_to_recordset(%s::jsonb) AS result(id uuid, attempts integer, worker_id text, return_value jsonb)
    WHERE task.id = result.id AND task.status = 'RUNNING' AND task.attempts = result.attempts
        AND task.worker_id = result.worker_id
    RETURNING task.id, task.attempts, task.worker_id, task.last_attempted_at, task.finished_at
)
INSERT INTO retry_taskattempt
    (task_id, number, worker_id, started_at, finished_at, outcome, error_class, error_message, error_traceback)
SELECT id, attempts, worker_id, last_attempted_at, finished_at, 'SUCCEEDED', '', '', '' FROM done
RETURNING task_id
"""


def succeed(connection: Any, results: list[tuple[TaskRecord, Any]]) -> set[uuid.UUID]:
    """Run SUCCEED_SQL for ``results``; the ids whose claim still held."""
    rows = [
        {"id": str(task.pk), "attempts": task.attempts, "worker_id": task.worker_id, "return_value": value}
        for task, value in results
    ]
    with connection.cursor() as cursor:
        cursor.execute(SUCCEED_SQL, [json.dumps(rows)])
        return {task_id for (task_id,) in cursor.fetchall()}
