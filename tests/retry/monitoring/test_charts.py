"""The charts' read: series from the Rollup rows alone, the JSON and the task pages, and a cost that stays the
same at a thousand and at a million task and attempt rows."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from retry.models import Rollup, RollupMark
from retry.models.rollups import HOUR, MINUTE
from retry.monitoring import charts, history
from tests.retry.rows import NOW

pytestmark = [pytest.mark.services, pytest.mark.django_db]

#: NOW is a whole hour: the last minute rolled up is the one before it.
LAST = NOW - timedelta(minutes=1)


def rollup(
    name: str, bucket: datetime, resolution: int = MINUTE, scope: str = Rollup.Scope.QUEUE, **figures: float
) -> Rollup:
    return Rollup.objects.create(scope=scope, name=name, resolution=resolution, bucket=bucket, **figures)


def series_of(figures: dict[str, Any], name: str) -> dict[str, Any]:
    return next(series for series in figures["series"] if series["name"] == name)


@pytest.fixture
def history_until_now() -> None:
    RollupMark.objects.create(name=history.MARK, until=NOW)
    rollup("emails", LAST, started=12, succeeded=10, failed=2, ready=7, oldest_ready_age=42.5, run_p95=1.25)
    rollup("emails", LAST - timedelta(minutes=59), succeeded=3)
    rollup("emails", LAST - timedelta(minutes=60), succeeded=99)  # an hour and a minute ago: out of range
    rollup("emails", NOW - timedelta(hours=1), resolution=HOUR, succeeded=600, ready=9, wait_p95=3.0)
    rollup("app.send", LAST, scope=Rollup.Scope.TASK, succeeded=4)


def test_the_live_hour_is_every_queue_minute_by_minute_up_to_the_mark(history_until_now: None) -> None:
    figures = charts.read("queue")
    assert (figures["range"], figures["step"], figures["points"]) == ("hour", 60, 60)
    assert figures["start"] == (LAST - timedelta(minutes=59)).isoformat()
    assert figures["until"] == NOW.isoformat()
    assert [series["name"] for series in figures["series"]] == ["default", "emails", "maintenance", "webhooks"]
    emails = series_of(figures, "emails")
    assert emails["succeeded"][0] == 3 and emails["succeeded"][-1] == 10 and sum(emails["succeeded"]) == 13
    assert (emails["started"][-1], emails["failed"][-1], emails["retried"][-1]) == (12, 2, 0)
    assert (emails["ready"][-1], emails["oldest_ready_age"][-1], emails["run_p95"][-1]) == (7, 42.5, 1.25)
    # Nothing measured: no backlog, no percentile.
    assert (emails["ready"][-2], emails["oldest_ready_age"][-2], emails["wait_p95"][-1]) == (0, None, None)
    assert series_of(figures, "default")["succeeded"] == [0] * 60


def test_hours_are_shown_per_minute_and_the_hour_under_way_over_its_minutes_so_far(history_until_now: None) -> None:
    RollupMark.objects.filter(name=history.MARK).update(until=NOW - timedelta(minutes=30))
    rollup("emails", NOW - timedelta(hours=2), resolution=HOUR, succeeded=120)
    week = series_of(charts.read("queue", "week"), "emails")
    assert len(week["succeeded"]) == 168
    assert week["succeeded"][-2:] == [2.0, 20.0]  # 120 over 60 minutes; 600 over the 30 rolled up
    assert (week["ready"][-1], week["wait_p95"][-1]) == (9, 3.0)


def test_a_task_names_series_and_the_names_with_history(history_until_now: None) -> None:
    figures = charts.read("task", "hour", ["app.send"])
    assert [series["name"] for series in figures["series"]] == ["app.send"]
    assert figures["series"][0]["succeeded"][-1] == 4
    rollup("app.send", NOW - timedelta(hours=1), resolution=HOUR, scope=Rollup.Scope.TASK)
    assert charts.task_names() == ["app.send"]


def test_before_the_first_roll_up_every_queue_has_an_empty_series() -> None:
    figures = charts.read("queue", "day")
    assert figures["until"] is None and len(figures["series"]) == 4
    assert series_of(figures, "emails")["started"] == [0] * 1440


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"range": "year"}, "Unknown range 'year': choose one of hour, day, week, month."),
        ({"scope": "worker"}, "Unknown scope 'worker': choose one of queue, task."),
        ({"scope": "task", "name": [f"app.t{n}" for n in range(21)]}, "Ask for 20 names at most"),
        ({"scope": "task", "name": "x" * 256}, "Ask for 20 names at most"),
    ],
)
def test_a_bad_chart_request_gets_a_clear_error(
    admin_client: Client, query: dict[str, str | list[str]], message: str
) -> None:
    response = admin_client.get(reverse("admin:retry_dashboard_charts"), query)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_a_name_no_task_can_have_is_a_bad_request_and_no_task_page(
    admin_client: Client, history_until_now: None
) -> None:
    response = admin_client.get(reverse("admin:retry_dashboard_charts"), {"scope": "task", "name": "a\x00b"})
    assert response.status_code == 400
    assert response.json()["error"] == "A name contains a NUL character (\\x00), which PostgreSQL refuses."
    assert admin_client.get(reverse("admin:retry_task_charts", args=["a\x00b"])).status_code == 404


def test_the_charts_json_and_a_task_page_for_those_who_may_view_tasks(
    admin_client: Client, client: Client, history_until_now: None
) -> None:
    response = admin_client.get(reverse("admin:retry_dashboard_charts"), {"scope": "task", "name": "app.send"})
    assert response.json()["series"][0]["succeeded"][-1] == 4
    page = admin_client.get(reverse("admin:retry_task_charts", args=["app.send"]))
    assert page.status_code == 200 and page.context["charts"]["series"][0]["name"] == "app.send"
    dashboard = admin_client.get(reverse("admin:retry_dashboard"))
    assert dashboard.context["chart_tasks"] == [] and len(dashboard.context["charts"]["series"]) == 4
    staff = get_user_model().objects.create_user("cook", password="cake-pass-1", is_staff=True)
    client.force_login(staff)  # staff, without the permission to view tasks
    assert client.get(reverse("admin:retry_dashboard_charts")).status_code == 403
    assert client.get(reverse("admin:retry_task_charts", args=["app.send"])).status_code == 403


# Task and attempt rows written by the database itself, in one INSERT ... SELECT each: tasks that succeeded at
# their ninth attempt, one a second back from a given time; ids in order, as the indexes fill fastest.
NUMBERS = {
    "postgresql": "WITH n(i) AS (SELECT generate_series(1, %s)) ",
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) ",
}
TASK_ID = {"postgresql": "lpad(to_hex({} + %s), 32, '0')::uuid", "sqlite": "printf('%%032x', {} + %s)"}
AGO = {"postgresql": "%s::timestamptz - make_interval(secs => {})", "sqlite": "datetime(%s, '-' || {} || ' seconds')"}
INSERT_TASKS = """INSERT INTO retry_taskrecord (id, task_path, queue, priority, args, kwargs, status, attempts,
    recoveries, alone, max_attempts, policy, time_limit, ignore_result, enqueued_at, run_after, started_at,
    finished_at, worker_id, error_class, error_message, error_traceback)
SELECT {id}, 'app.send', 'emails', 0, '[]', '{{}}', 'SUCCESSFUL', 9, 0, false, 9, '{{}}', 60, false, {ago}, {ago},
    {ago}, {ago}, 'w', '', '', '' FROM n"""
INSERT_ATTEMPTS = """INSERT INTO retry_taskattempt (task_id, number, worker_id, started_at, finished_at, outcome,
    error_class, error_message, error_traceback)
SELECT {id}, 1 + (i - 1) %% 9, 'w', {ago}, {ago}, CASE WHEN i %% 9 = 0 THEN 'SUCCEEDED' ELSE 'RETRIED' END,
    '', '', '' FROM n"""
ATTEMPTS_PER_TASK = 9


def insert_source_rows(tasks: int, offset: int, before: datetime) -> int:
    """``tasks`` tasks from id ``offset`` on, with their attempts, finished before ``before``; the rows written."""
    vendor = connection.vendor
    start = before.isoformat() if vendor == "postgresql" else before.strftime("%Y-%m-%d %H:%M:%S")
    task, attempt = "i", f"(1 + (i - 1) / {ATTEMPTS_PER_TASK})"
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            # Every attempt's task is written just before: the foreign key's 900,000 checks would only cost time.
            cursor.execute("SET LOCAL session_replication_role = replica")
        rows = INSERT_TASKS.format(id=TASK_ID[vendor].format(task), ago=AGO[vendor].format(task))
        cursor.execute(NUMBERS[vendor] + rows, [tasks, offset, *[start] * 4])
        rows = INSERT_ATTEMPTS.format(id=TASK_ID[vendor].format(attempt), ago=AGO[vendor].format(attempt))
        cursor.execute(NUMBERS[vendor] + rows, [tasks * ATTEMPTS_PER_TASK, offset, start, start])
    return tasks * (1 + ATTEMPTS_PER_TASK)


def chart_reads() -> list[str]:
    """The statements of every chart the dashboard and a task page read."""
    with CaptureQueriesContext(connection) as captured:
        for span in charts.RANGES:
            charts.read("queue", span)
            charts.read("task", span, ["app.send"])
        charts.task_names()
    return [query["sql"] for query in captured.captured_queries]


def test_a_chart_costs_the_same_at_a_thousand_and_at_a_million_source_rows() -> None:
    """Writes a million rows: a few seconds on an idle machine."""
    written = insert_source_rows(100, 0, NOW)  # in the last minutes...
    while history.roll_up(NOW, NOW)[0]:  # ...rolled up into the history the charts read
        pass
    assert written == 1000 and Rollup.objects.filter(name="emails", resolution=MINUTE).count() > 1
    small = chart_reads()
    written += insert_source_rows(99_900, 100, NOW - timedelta(minutes=5))
    assert written == 1_000_000
    large = chart_reads()
    assert len(small) == len(large) == 2 * 2 * len(charts.RANGES) + 1
    assert small == large  # the very same statements
    for statement in large:
        assert "retry_rollup" in statement
        assert "retry_taskrecord" not in statement and "retry_taskattempt" not in statement
