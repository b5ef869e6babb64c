"""The hot path's SQL, named: the statements that claim tasks and record successes on PostgreSQL.

Each does in one round trip what the ORM would take several for; the transitions that run them
(retry.transitions.attempts) hold the rules, this module the statements.
"""

import functools
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from retry.models import TaskRecord

#: The tasks a claim takes: those its messages named that are still claimable, and the highest-priority due tasks
#: of its queues (each queue's backlog read in the order of its index, retry_task_backlog, so a claim reads
#: ``LIMIT`` rows however long the backlog is). Rows locked by another transaction are skipped, never waited
#: for: another worker is claiming them, or the dispatcher is sending their message again. The ids are taken
#: first, into an array, so the UPDATE changes exactly those rows, by primary key, whatever the plan.
CLAIMABLE = """status = 'READY' AND run_after <= STATEMENT_TIMESTAMP()
        AND (expires_at IS NULL OR expires_at > STATEMENT_TIMESTAMP())"""
NAMED_SQL = f"""SELECT id FROM retry_taskrecord
    WHERE id = ANY(%s::uuid[]) AND {CLAIMABLE}
    FOR UPDATE SKIP LOCKED"""
BACKLOG_SQL = (
    """backlog_{number} AS (
    SELECT id, priority, run_after FROM retry_taskrecord
    WHERE queue = %s AND """
    + CLAIMABLE
    + """
    ORDER BY priority DESC, run_after
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)"""
)
#: The backlog of one queue alone, without the merge of several queues' backlogs.
ONE_BACKLOG_SQL = f"""SELECT id FROM retry_taskrecord
    WHERE queue = %s AND {CLAIMABLE}
    ORDER BY priority DESC, run_after
    LIMIT %s
    FOR UPDATE SKIP LOCKED"""
CLAIM_SQL = """{backlogs}UPDATE retry_taskrecord
SET status = 'RUNNING', attempts = attempts + 1, alone = false, worker_id = %s,
    lease_until = STATEMENT_TIMESTAMP() + make_interval(secs => %s),
    started_at = COALESCE(started_at, STATEMENT_TIMESTAMP()), last_attempted_at = STATEMENT_TIMESTAMP()
WHERE id = ANY(ARRAY({taken}))
RETURNING {columns}
"""


@functools.cache
def claim_sql(queues: int, *, named: bool = True) -> str:
    """The claim statement for a worker taking the backlog of ``queues`` queues (0: only the named tasks), with
    the tasks its messages named (``named``) or without: each claim reads only what it takes from."""
    backlogs, taken = "", []
    if named:
        taken.append(NAMED_SQL)
    if queues == 1:
        taken.append(ONE_BACKLOG_SQL)
    elif queues > 1:
        backlogs = "WITH " + ",\n".join(BACKLOG_SQL.format(number=number) for number in range(queues)) + "\n"
        merged = " UNION ALL ".join(f"SELECT * FROM backlog_{number}" for number in range(queues))
        taken.append(f"SELECT id FROM ({merged}) AS backlog ORDER BY priority DESC, run_after LIMIT %s")
    if len(taken) > 1:  # FOR UPDATE is refused beside UNION, but not inside the subqueries it joins
        taken = [f"SELECT id FROM ({select}) AS taken_{number}" for number, select in enumerate(taken)]
    union = "\n    UNION\n    ".join(taken) or "SELECT NULL::uuid WHERE false"
    columns = ", ".join(str(field.column) for field in TaskRecord._meta.concrete_fields)
    return CLAIM_SQL.format(backlogs=backlogs, taken=union, columns=columns)


def claim_due(
    connection: Any, task_ids: list[str], queues: Sequence[str], more: int, worker_id: str, lease: float
) -> list[TaskRecord]:
    """Claim ``task_ids`` if still claimable, and up to ``more`` due tasks of ``queues``, for ``worker_id``."""
    named = sorted(set(task_ids))
    queues = queues if more else ()
    backlogs = [value for queue in queues for value in (queue, more)] if len(queues) > 1 else []
    taken: list[Any] = [named] if named else []
    taken += [queues[0], more] if len(queues) == 1 else [more] if queues else []
    params = [*backlogs, worker_id, lease, *taken]
    return claim(connection, params, len(queues), functools.partial(claim_sql, named=bool(named)))


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
#: clock_timestamp(), after the statement's snapshot: every attempt this claim counted as ended ended before it. As the
#: plain claim, it updates the ids it took, by primary key (an array), so no plan updates more than it chose.
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
WHERE id = ANY(ARRAY(SELECT id FROM best))
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
    names, converted = _row_shape()
    values = list(row)
    for index, field in converted:
        values[index] = field.from_db_value(values[index], None, connection)
    return TaskRecord.from_db(connection.alias, names, values)


@functools.cache
def _row_shape() -> tuple[list[str], list[tuple[int, Any]]]:
    """The attribute names of a task row's columns, and the columns read through their field (the JSON ones)."""
    fields = TaskRecord._meta.concrete_fields
    converted = [(index, field) for index, field in enumerate(fields) if hasattr(field, "from_db_value")]
    return [field.attname for field in fields], converted


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
