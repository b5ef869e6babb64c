"""Periodic schedules in the database: loaded from RETRY_PERIODIC, edited in the admin, followed by the dispatcher."""

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django import Settings

from retry import schedules
from retry.models import PeriodicRun, Schedule, TaskRecord
from retry.monitoring import operations

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

pytestmark = [pytest.mark.services, pytest.mark.django_db]  # the admin takes what operators type
HOURLY = {"task": "tests.tasks.record", "every": 3600, "kwargs": {"key": "hourly"}}
NIGHTLY = {"task": "tests.tasks.record", "cron": "0 3 * * *", "timezone": "Europe/Paris", "args": ["nightly"]}
NOW = datetime(2026, 1, 15, 12, 30, tzinfo=UTC)


@pytest.fixture
def periodic(settings: Settings) -> Settings:
    settings.RETRY_PERIODIC = {"hourly": HOURLY, "nightly": NIGHTLY}
    schedules.load_settings()
    return settings


def row(name: str) -> Schedule:
    return Schedule.objects.get(name=name)


def enqueued(name: str) -> int:
    return TaskRecord.objects.filter(idempotency_key__startswith=f"periodic:{name}:").count()


def test_the_settings_are_loaded_once_whatever_the_number_of_loads(periodic: Settings) -> None:
    nightly = row("nightly")
    assert (nightly.task_path, nightly.cron, nightly.timezone, nightly.args) == (
        "tests.tasks.record",
        "0 3 * * *",
        "Europe/Paris",
        ["nightly"],
    )
    assert (row("hourly").every, row("hourly").kwargs, nightly.source, nightly.enabled) == (
        3600,
        {"key": "hourly"},
        Schedule.Source.SETTINGS,
        True,
    )
    assert schedules.load_settings() == 0  # idempotent: nothing to write


def test_migrate_loads_the_settings(periodic: Settings) -> None:
    Schedule.objects.all().delete()
    call_command("migrate", "retry", verbosity=0)
    assert set(Schedule.objects.values_list("name", flat=True)) == {"hourly", "nightly"}


def test_a_changed_entry_changes_its_row_and_a_removed_one_takes_it_away(periodic: Settings) -> None:
    periodic.RETRY_PERIODIC = {"hourly": {**HOURLY, "every": 1800}}
    assert schedules.load_settings() == 2
    assert row("hourly").every == 1800
    assert not Schedule.objects.filter(name="nightly").exists()


def test_an_operators_edit_wins_over_the_settings_until_reset(periodic: Settings) -> None:
    Schedule.objects.filter(name="hourly").update(every=60, edited_at=NOW, edited_by="alice")
    periodic.RETRY_PERIODIC = {"nightly": NIGHTLY, "hourly": {**HOURLY, "every": 1800}}
    schedules.load_settings()
    assert row("hourly").every == 60  # kept, and marked

    assert operations.reset_schedules(["hourly"], "bob") == 1
    assert (row("hourly").every, row("hourly").edited_at) == (1800, None)


def test_an_edited_row_stays_when_its_entry_leaves_the_settings(periodic: Settings) -> None:
    Schedule.objects.filter(name="nightly").update(edited_at=NOW, edited_by="alice")
    periodic.RETRY_PERIODIC = {"hourly": HOURLY}
    schedules.load_settings()
    assert Schedule.objects.filter(name="nightly").exists()


def test_loading_never_enables_what_an_operator_disabled(periodic: Settings) -> None:
    operations.disable_schedules(["nightly"], "alice")
    schedules.load_settings()
    assert row("nightly").enabled is False


def test_an_entry_the_check_refuses_is_not_loaded_and_is_logged(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.RETRY_PERIODIC = {"typo": {"task": "tests.tasks.recrod", "every": 60}, "hourly": HOURLY}
    schedules.load_settings()
    assert list(Schedule.objects.values_list("name", flat=True)) == ["hourly"]
    assert [
        vars(r)["schedule"] for r in caplog.records if r.name == "retry.schedules" and r.levelno == logging.ERROR
    ] == ["typo"]


def test_disabling_and_enabling_take_effect_at_the_dispatchers_next_pass(
    periodic: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="retry.monitoring.operations")
    assert operations.disable_schedules(["hourly", "nightly"], "alice") == 2
    assert schedules.enqueue_due(NOW) == 0

    assert operations.enable_schedules(["hourly"], "alice") == 1
    assert schedules.enqueue_due(NOW) == 1
    assert (enqueued("hourly"), enqueued("nightly")) == (1, 0)
    assert schedules.enqueue_due(NOW + timedelta(minutes=10)) == 0  # once per period
    logged = [
        (vars(r)["action"], vars(r)["operator"], vars(r)["changed"])
        for r in caplog.records
        if r.name == "retry.monitoring.operations"
    ]
    assert logged == [("disable_schedules", "alice", 2), ("enable_schedules", "alice", 1)]


def test_an_edit_takes_effect_at_the_next_pass(periodic: Settings) -> None:
    Schedule.objects.filter(name="hourly").update(every=60)
    schedules.enqueue_due(NOW)
    schedules.enqueue_due(NOW + timedelta(minutes=1))
    assert enqueued("hourly") == 2


@pytest.mark.parametrize(
    ("now", "start"),
    [
        # 03:00 in Paris is 02:00 UTC in winter (CET) and 01:00 UTC in summer (CEST).
        (datetime(2026, 1, 15, 12, 30, tzinfo=UTC), datetime(2026, 1, 15, 2, 0, tzinfo=UTC)),
        (datetime(2026, 7, 15, 12, 30, tzinfo=UTC), datetime(2026, 7, 15, 1, 0, tzinfo=UTC)),
        # 01:30 UTC in January is 02:30 in Paris, before 03:00: the period began the day before.
        (datetime(2026, 1, 15, 1, 30, tzinfo=UTC), datetime(2026, 1, 14, 2, 0, tzinfo=UTC)),
    ],
)
def test_a_cron_runs_in_its_time_zone(now: datetime, start: datetime) -> None:
    assert schedules.period_start(NIGHTLY, now) == start
    assert schedules.next_start(NIGHTLY, now) == start + timedelta(days=1)


def test_an_unknown_time_zone_is_refused_by_the_system_check(settings: Settings) -> None:
    from retry.checks import check_periodic

    settings.RETRY_PERIODIC = {"nightly": {**NIGHTLY, "timezone": "Mars/Olympus"}}
    [error] = check_periodic()
    assert error.id == "retry.E002" and "'Mars/Olympus' is not a known time zone" in error.msg


@pytest.mark.parametrize(
    ("name", "entry", "said"),
    [
        ("when", {**HOURLY, "kwargs": {"when": datetime(2026, 1, 1)}}, "a datetime is not JSON"),
        ("nan", {**HOURLY, "kwargs": {"x": float("nan")}}, "nan, which JSON cannot hold"),
        ("nul", {**HOURLY, "args": ["a\x00b"]}, "NUL"),
        ("n" * 101, HOURLY, "the name is 101 characters long; the limit is 100"),
        ("nul\x00name", HOURLY, "the name contains a NUL"),
        ("path", {**HOURLY, "task": "tests." + "x" * 250}, "the task's path is 256 characters long; the limit is 255"),
        ("far", {**HOURLY, "every": 1e20}, "the limit is 315360000"),
    ],
)
def test_an_entry_the_table_could_not_store_is_refused_by_the_system_check(
    settings: Settings, name: str, entry: dict[str, object], said: str
) -> None:
    from retry.checks import check_periodic

    settings.RETRY_PERIODIC = {name: entry, "hourly": HOURLY}
    [error] = check_periodic()
    assert error.id == "retry.E002" and f"RETRY_PERIODIC[{name!r}]" in error.msg and said in error.msg, error.msg
    schedules.load_settings()
    assert list(Schedule.objects.values_list("name", flat=True)) == ["hourly"]


@pytest.fixture
def unchecked(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """An entry the table refuses that the check let through (a database of its own, say): the others load."""
    monkeypatch.setattr(schedules, "problem", lambda spec, name="": None)
    settings.RETRY_PERIODIC = {"bad": {**HOURLY, "kwargs": {"when": datetime(2026, 1, 1)}}, "hourly": HOURLY}
    return settings


def test_an_entry_the_database_refuses_is_logged_and_the_others_load(
    unchecked: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    schedules.load_settings()
    assert list(Schedule.objects.values_list("name", flat=True)) == ["hourly"]
    assert [
        vars(r)["schedule"] for r in caplog.records if r.name == "retry.schedules" and r.levelno == logging.ERROR
    ] == ["bad"]


def test_migrate_loads_the_entries_the_database_takes(unchecked: Settings) -> None:
    Schedule.objects.all().delete()
    call_command("migrate", "retry", verbosity=0)
    assert list(Schedule.objects.values_list("name", flat=True)) == ["hourly"]


@pytest.mark.django_db(transaction=True)  # a pass closes old connections
def test_a_failed_load_stops_none_of_the_dispatchers_duties(
    periodic: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from retry.dispatcher import Dispatcher
    from tests import tasks

    def broken() -> int:
        raise DatabaseError("the schedules table is locked")

    monkeypatch.setattr(schedules, "load_settings", broken)
    monkeypatch.setattr(schedules, "_loaded", None)
    due = tasks.record.enqueue(key="due")
    TaskRecord.objects.filter(pk=due.id).update(notified_at=None)
    report = Dispatcher().tick()
    assert (report["scheduled"], report["sent"]) == (2, 1)  # the table as it was, and the due task
    assert "RETRY_PERIODIC not loaded" in caplog.text


# The admin.

FORM = {
    "name": "reminders",
    "task_path": "tests.tasks.record",
    "every": "",
    "cron": "*/5 * * * *",
    "timezone": "UTC",
    "enabled": "on",
    "args": "[]",
    "kwargs": '{"key": "reminders"}',
}


def add(admin_client: Client, **changes: str) -> "_MonkeyPatchedWSGIResponse":
    return admin_client.post(reverse("admin:retry_schedule_add"), {**FORM, **changes})


@pytest.mark.parametrize(
    ("changes", "field", "said"),
    [
        ({"cron": "*/5 * * *"}, "cron", "is not a cron expression"),
        ({"cron": "61 * * * *"}, "cron", "is not a cron expression"),
        ({"cron": "", "every": "-5"}, "every", "'every' must be a positive number of seconds"),
        ({"cron": "", "every": "0"}, "every", "'every' must be a positive number of seconds"),
        ({"cron": "", "every": "inf"}, "every", "Enter a number"),
        ({"cron": "", "every": "1e20"}, "every", "the limit is 315360000 (ten years)"),
        ({"every": "60"}, "every", "Give either 'every' (seconds) or a cron."),
        ({"cron": ""}, "cron", "Give either 'every' (seconds) or a cron."),
        ({"timezone": "Mars/Olympus"}, "timezone", "is not a known time zone"),
        ({"timezone": "../../etc/passwd"}, "timezone", "is not a known time zone"),
        ({"task_path": "tests.tasks.recrod"}, "task_path", "tests.tasks.recrod"),
        ({"args": '{"a": 1}'}, "args", "'args' must be a list"),
        ({"kwargs": "[1]"}, "kwargs", "'kwargs' must be a dict"),
        ({"kwargs": '{"key": "\\u0000"}'}, "kwargs", "NUL"),
    ],
)
def test_the_admin_refuses_a_schedule_the_dispatcher_could_not_run(
    admin_client: Client, changes: dict[str, str], field: str, said: str
) -> None:
    response = add(admin_client, **changes)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert said in " ".join(errors.get(field, [])), errors
    assert not Schedule.objects.filter(name="reminders").exists()


def test_a_schedule_added_in_the_admin_runs_in_its_time_zone(admin_client: Client, settings: Settings) -> None:
    settings.RETRY_PERIODIC = {}
    assert add(admin_client, timezone="Asia/Tokyo").status_code == 302
    added = row("reminders")
    assert (added.source, added.cron, added.timezone, added.kwargs) == (
        Schedule.Source.ADMIN,
        "*/5 * * * *",
        "Asia/Tokyo",
        {"key": "reminders"},
    )
    assert schedules.enqueue_due(NOW) == 1


def test_an_operators_edit_in_the_admin_is_marked_but_enabling_is_not(admin_client: Client, periodic: Settings) -> None:
    hourly = row("hourly")
    changelist = reverse("admin:retry_schedule_changelist")
    admin_client.post(changelist, {"action": "disable", ACTION_CHECKBOX_NAME: [hourly.pk]})
    assert (row("hourly").enabled, row("hourly").edited_at) == (False, None)

    change = reverse("admin:retry_schedule_change", args=[hourly.pk])
    form = {**FORM, "task_path": "tests.tasks.record", "cron": "", "every": "600", "kwargs": '{"key": "hourly"}'}
    assert admin_client.post(change, form).status_code == 302
    edited = row("hourly")
    assert (edited.name, edited.every, edited.edited_by) == ("hourly", 600, "admin")  # a settings' name stays


def test_a_settings_schedule_cannot_be_deleted_only_disabled(admin_client: Client, periodic: Settings) -> None:
    response = admin_client.post(reverse("admin:retry_schedule_delete", args=[row("hourly").pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Schedule.objects.filter(name="hourly").exists()


def test_adding_editing_and_deleting_a_schedule_in_the_admin_are_audited(
    admin_client: Client, settings: Settings
) -> None:
    from retry.models import AuditEntry

    settings.RETRY_PERIODIC = {}
    assert add(admin_client).status_code == 302
    change = reverse("admin:retry_schedule_change", args=[row("reminders").pk])
    assert admin_client.post(change, {**FORM, "cron": "*/10 * * * *"}).status_code == 302
    delete = reverse("admin:retry_schedule_delete", args=[row("reminders").pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert add(admin_client, name="a").status_code == 302 and add(admin_client, name="b").status_code == 302
    changelist = reverse("admin:retry_schedule_changelist")
    chosen = list(Schedule.objects.filter(name__in=["a", "b"]).values_list("pk", flat=True))
    admin_client.post(changelist, {"action": "delete_selected", ACTION_CHECKBOX_NAME: chosen, "post": "yes"})
    assert not Schedule.objects.filter(name__in=["a", "b", "reminders"]).exists()
    logged = [(e.action, e.operator, e.targets, e.changed) for e in AuditEntry.objects.order_by("pk")]
    assert logged == [
        ("add_schedule", "admin", {"schedules": ["reminders"]}, 1),
        ("edit_schedule", "admin", {"schedules": ["reminders"]}, 1),
        ("delete_schedules", "admin", {"schedules": ["reminders"]}, 1),
        ("add_schedule", "admin", {"schedules": ["a"]}, 1),
        ("add_schedule", "admin", {"schedules": ["b"]}, 1),
        ("delete_schedules", "admin", {"schedules": ["a", "b"]}, 2),
    ]


# The page.


def test_the_page_lists_every_schedule_with_its_last_and_next_run_and_outcome(
    admin_client: Client, periodic: Settings
) -> None:
    operations.disable_schedules(["nightly"], "alice")
    page = admin_client.get(reverse("admin:retry_schedules")).content.decode()
    assert "hourly" in page and "never" in page and "at the dispatcher&#x27;s next pass" in page
    assert "cron 0 3 * * * (Europe/Paris)" in page and "disabled" in page

    schedules.enqueue_due(NOW)
    run = PeriodicRun.objects.get(name="hourly")
    assert run.task_id is not None
    TaskRecord.objects.filter(pk=run.task_id).update(status="FAILED", error_class="tests.tasks.Flaky")
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(reverse("admin:retry_schedules")).content.decode()
    assert "2026-01-15 12:00:00 UTC" in page  # the last period's start
    assert "FAILED: Flaky" in page and reverse("admin:retry_taskrecord_change", args=[run.task_id]) in page
    schedule_queries = [
        q for q in queries.captured_queries if "retry_schedule" in q["sql"] or "periodicrun" in q["sql"]
    ]
    assert len(schedule_queries) == 2  # however many schedules


def test_a_period_too_long_to_compute_shows_never_on_the_page(admin_client: Client, periodic: Settings) -> None:
    Schedule.objects.filter(name="hourly").update(every=1e20)  # written around the admin
    PeriodicRun.objects.create(name="hourly", period_start=datetime.fromtimestamp(0, tz=UTC))
    page = admin_client.get(reverse("admin:retry_schedules")).content.decode()
    assert "never: " in page


def test_the_admin_index_and_the_dashboard_link_to_the_page(admin_client: Client) -> None:
    link = reverse("admin:retry_schedules")
    assert link in admin_client.get(reverse("admin:index")).content.decode()
    assert link in admin_client.get(reverse("admin:retry_dashboard")).content.decode()
