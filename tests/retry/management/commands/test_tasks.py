"""`manage.py tasks`: list, show, and actions by id or on everything a filter matches, through the real command
(call_command, and a subprocess with project.settings with and without a terminal)."""

import io
import json
import os
import pty
import subprocess
import sys
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connections
from django.tasks.base import TaskResultStatus as Status

from retry.models import AuditEntry, TaskRecord
from tests import processes, tasks
from tests.project.conftest import BASE_DIR, clean_env
from tests.retry.rows import attempt, task

pytestmark = [pytest.mark.django_db]


def run(*args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command("tasks", *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def dead(count: int, queue: str = "emails") -> list[TaskRecord]:
    return [task(queue, Status.FAILED, finished=10, attempts=3, kwargs={"order_id": n}) for n in range(count)]


def test_the_tasks_command_retries_cancels_requeues_and_purges_by_id() -> None:
    ready = tasks.record.enqueue("a").id
    dead_ids = [tasks.record.enqueue(f"d{i}").id for i in range(2)]
    TaskRecord.objects.filter(pk__in=dead_ids).update(status=Status.FAILED, attempts=5)

    assert run("cancel", ready) == "cancel: 1 task(s) changed\n"
    assert run("retry", dead_ids[0]) == "retry_now: 1 task(s) changed\n"
    assert run("requeue_dead", tasks.record.module_path) == "requeue_dead: 2 task(s) changed\n"  # d1, the cancelled
    assert run("purge", ready, dead_ids[0]) == "purge: 0 task(s) changed\n"  # neither is finished any more
    assert set(TaskRecord.objects.values_list("status", flat=True)) == {Status.READY}
    assert json.loads(run("retry_now", dead_ids[1], "--json")) == {"action": "retry_now", "changed": 0}


def test_list_shows_a_table_of_what_a_filter_matches_or_json() -> None:
    record = task("emails", Status.FAILED, finished=5, kwargs={"order_id": 7}, error_class="x.Boom", error_message="no")
    task("emails", kwargs={"order_id": 8})
    table = run("list", "--queue", "emails", "--arg", "kwargs.order_id=7").splitlines()
    assert table[0].split() == ["id", "enqueued", "task", "queue", "status", "attempts", "error"]
    assert table[2].split() == [
        str(record.pk),
        "2026-06-01",
        "11:59:00",
        "record",
        "emails",
        "FAILED",
        "0",
        "Boom:",
        "no",
    ]
    assert table[-1] == "1 of 1 task(s) matching queue=emails kwargs.order_id=7."
    listed = json.loads(run("list", "--status", "failed,ready", "--json", "--limit", "1"))
    assert listed["count"] == 2 and len(listed["tasks"]) == 1


def test_show_gives_a_task_and_its_attempts() -> None:
    record = task("emails", Status.FAILED, finished=5, attempts=1, error_class="x.Boom", error_message="no")
    attempt(record, 1, started=30, seconds=2, outcome="FAILED", error_message="no")
    text = run("show", str(record.pk))
    assert "       status: FAILED" in text and "      1  host:1:abc" in text
    shown = json.loads(run("show", str(record.pk), "--json"))
    assert (shown["error"], shown["attempts"][0]["outcome"], shown["attempts"][0]["seconds"]) == (
        "Boom: no",
        "FAILED",
        2.0,
    )


def test_an_action_on_a_filter_with_yes_runs_in_batches_with_progress_and_is_audited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("retry.monitoring.operations.BATCH_SIZE", 2)
    dead(5)
    dead(1, queue="default")
    err = io.StringIO()
    out = io.StringIO()
    call_command("tasks", "retry", "--queue", "emails", "--yes", stdout=out, stderr=err)
    entry = AuditEntry.objects.get()
    assert out.getvalue() == f"retry_now: 5 of 5 task(s) changed (audit entry {entry.pk})\n"
    # No terminal: a plain line each ten percent more, not a bar redrawn in place.
    assert err.getvalue().splitlines() == [
        "retry_now: 2/5 (40%), 2 changed",
        "retry_now: 4/5 (80%), 4 changed",
        "retry_now: 5/5 (100%), 5 changed",
    ]
    assert (entry.operator.startswith("cli:"), entry.filter, entry.changed) == (True, {"queue": ["emails"]}, 5)
    assert TaskRecord.objects.filter(status=Status.FAILED).count() == 1


@pytest.mark.parametrize(
    ("stop", "said"),
    [
        (KeyboardInterrupt(), "retry_now interrupted (by the keyboard; audit entry {pk} is marked interrupted"),
        (
            OperationalError("server closed the connection\nunexpectedly"),
            "retry_now interrupted (the database failed: server closed the connection unexpectedly; audit entry {pk}",
        ),
    ],
)
def test_an_interrupted_action_on_a_filter_marks_its_audit_row_and_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, stop: BaseException, said: str
) -> None:
    from retry.monitoring import operations

    monkeypatch.setattr(operations, "BATCH_SIZE", 2)
    dead(5)
    calls = []

    def stopping_second(ids: list[str]) -> int:
        calls.append(ids)
        if len(calls) == 2:
            raise stop
        return operations.retry_batch(ids)

    monkeypatch.setitem(operations.BATCH_ACTIONS, "retry_now", stopping_second)
    with pytest.raises(CommandError) as refused:
        run("retry", "--queue", "emails", "--yes")
    entry = AuditEntry.objects.get()
    assert str(refused.value).startswith(said.format(pk=entry.pk)) and "\n" not in str(refused.value)
    assert (entry.state, entry.processed, entry.finished_at is not None) == (AuditEntry.State.INTERRUPTED, 2, True)


def test_a_database_failure_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("no such table:\nretry_taskrecord")

    monkeypatch.setattr(TaskRecord.objects, "filter", failing)
    with pytest.raises(CommandError, match=r"^The database failed: no such table: retry_taskrecord$"):
        run("show", "0b1c2d3e-0000-4000-8000-000000000000")


def test_an_action_on_a_filter_without_yes_or_terminal_is_refused_and_changes_nothing() -> None:
    dead(2)
    with pytest.raises(CommandError) as refused:
        run("purge", "--status", "FAILED")
    assert str(refused.value) == (
        "Not run: 2 task(s) that purge would change, matching status=FAILED; "
        "there is no terminal to confirm on, so pass --yes."
    )
    assert TaskRecord.objects.count() == 2 and not AuditEntry.objects.exists()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "left"), [("y\n", 0), ("\n", 2)])
def test_on_a_terminal_the_action_asks_first(answer: str, left: int) -> None:
    dead(2)
    if left:
        with pytest.raises(CommandError, match=r"Not confirmed: nothing was done\."):
            run("purge", "--status", "FAILED", stdin=Terminal(answer))
    else:
        run("purge", "--status", "FAILED", stdin=Terminal(answer))
    assert TaskRecord.objects.count() == left


def test_ids_and_a_filter_together_are_refused() -> None:
    with pytest.raises(CommandError, match=r"Give task ids or filter options, not both\."):
        run("cancel", "0b1c2d3e-0000-4000-8000-000000000000", "--queue", "emails")


def manage(*arguments: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": processes.database_url(connections["default"].settings_dict),
    }
    options = {"capture_output": True, "stdin": subprocess.DEVNULL, **kwargs}
    return subprocess.run(
        [sys.executable, "manage.py", "tasks", *arguments],
        env=clean_env(env),
        cwd=BASE_DIR,
        text=True,
        timeout=60,
        **options,
    )


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["list", "--limit", "0"], "--limit 0 is not a whole number of at least 1."),
        (["list", "--status", "done"], "--status: DONE is not a status; they are READY, RUNNING, FAILED, SUCCESSFUL."),
        (["list", "--arg", "order_id"], "--arg: 'order_id' is not key=value, such as kwargs.order_id=7 or args.0=7."),
        (
            ["list", "--since", "soon"],
            "--since: 'soon' is not a time: write 2026-12-01, 2026-12-01T08:30, 30m, 2h or 7d.",
        ),
        (["list", "--since", "1h", "--until", "2h"], "since must come before until."),
        (["list", "--since", "999999d"], "--since: '999999d' goes back more than 3650 days; give a date instead."),
        (["cancel", "--arg", "x=NaN"], "--arg: 'x=NaN': the value holds 'NaN', which JSON cannot hold."),
        (["show", "12"], "'12' is not a task id (a UUID)."),
        (["show", "0b1c2d3e-0000-4000-8000-000000000000"], "No task 0b1c2d3e-0000-4000-8000-000000000000."),
        (["requeue_dead", "no.such.task"], "'no.such.task' names no task."),
        (["retry", "--yes", "--wat"], "Error: unrecognized arguments: --wat"),
    ],
)
def test_a_bad_argument_is_refused_with_a_message_naming_it(arguments: list[str], error: str) -> None:
    with pytest.raises(CommandError) as refused:
        run(*arguments)
    assert str(refused.value) == error


def test_a_filter_that_matches_nothing_does_nothing_without_asking() -> None:
    assert run("cancel", "--error", "x").startswith("cancel: 0 of 0 task(s) changed")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ([], "manage.py tasks: error: the following arguments are required: command"),
        (["explode"], "manage.py tasks: error: argument command: invalid choice: 'explode'"),
        (["list", "--limit", "many"], "manage.py tasks list: error: argument --limit: invalid int value: 'many'"),
        (["list", "--queue", "nothere"], "CommandError: --queue: nothere is not a queue; this project's are "),
        (["list", "--until", "999999d"], "CommandError: --until: '999999d' goes back more than 3650 days"),
    ],
)
def test_from_the_shell_a_bad_argument_gets_one_line_and_a_non_zero_exit(arguments: list[str], error: str) -> None:
    result = manage(*arguments)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.strip().startswith(error)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_in_ci_a_filter_action_without_yes_refuses_in_one_line_and_with_yes_runs() -> None:
    dead(3)
    refused = manage("retry", "--queue", "emails")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "CommandError: Not run: 3 task(s) that retry_now would change, matching queue=emails; "
        "there is no terminal to confirm on, so pass --yes."
    ]
    done = manage("retry", "--queue", "emails", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert {key: json.loads(done.stdout)[key] for key in ("matched", "changed")} == {"matched": 3, "changed": 3}
    assert "retry_now: 3/3 (100%), 3 changed" in done.stderr.splitlines()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_on_a_real_terminal_it_asks_and_draws_a_bar() -> None:
    dead(2)
    main, follower = pty.openpty()
    os.write(main, b"y\n")
    try:
        done = manage(
            "purge", "--status", "FAILED", stdin=follower, stderr=follower, capture_output=False, stdout=subprocess.PIPE
        )
        os.close(follower)
        seen = b""
        while chunk := read_some(main):
            seen += chunk
    finally:
        os.close(main)
    assert done.returncode == 0
    screen = seen.decode()
    assert "2 task(s) that purge would change, matching status=FAILED. Go ahead? [y/N]" in screen
    assert "\rpurge [" + "#" * 30 + "] 2/2 (100%), 2 changed" in screen
    assert TaskRecord.objects.count() == 0


def read_some(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # the terminal closed
        return b""
