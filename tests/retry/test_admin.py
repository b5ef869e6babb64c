"""The task admin: list, timeline and policy, confirmed and logged actions, overrides, workers."""

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import Permission, User
from django.tasks.base import TaskResultStatus as Status
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings

from retry import registry
from retry.models import Heartbeat, Outcome, PolicyOverride, TaskRecord
from tests.retry.rows import attempt, heartbeat, task

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

pytestmark = [pytest.mark.services, pytest.mark.django_db, pytest.mark.usefixtures("static_root")]
CHANGELIST = "admin:retry_taskrecord_changelist"


@pytest.fixture(autouse=True)
def fresh_overrides() -> Iterator[None]:
    """The registry caches overrides per process: each test starts and ends reading them afresh."""
    registry.forget_overrides()
    yield
    registry.forget_overrides()


@pytest.fixture
def dead() -> TaskRecord:
    return task(status=Status.FAILED, attempts=3, finished=10, error_class="builtins.KeyError", error_message="'x'")


@pytest.fixture
def ready() -> TaskRecord:
    return task(enqueued=5)


@pytest.fixture
def viewer(django_user_model: type[User]) -> User:
    """Staff who may look at tasks but not act on them."""
    user = django_user_model.objects.create_user("viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_taskrecord"))
    return user


def act(client: Client, action: str, *tasks: TaskRecord, confirmed: bool = False) -> "_MonkeyPatchedWSGIResponse":
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [str(t.pk) for t in tasks]}
    if confirmed:
        data["confirmed"] = "yes"
    return client.post(reverse(CHANGELIST), data)


def status_of(record: TaskRecord) -> str | None:
    return TaskRecord.objects.filter(pk=record.pk).values_list("status", flat=True).first()


def test_the_list_shows_attempts_and_short_errors(admin_client: Client, dead: TaskRecord) -> None:
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "3/3" in page
    TaskRecord.objects.filter(pk=dead.pk).update(attempts=5, recoveries=2)  # two lost beside other tasks
    assert "3/3 + 2 recovered" in admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "KeyError: &#x27;x&#x27;" in page
    assert "Task dashboard" in page


def test_the_list_filters_and_searches(admin_client: Client, dead: TaskRecord, ready: TaskRecord) -> None:
    assert admin_client.get(reverse(CHANGELIST), {"status__exact": "FAILED"}).context["cl"].result_count == 1
    assert admin_client.get(reverse(CHANGELIST), {"q": str(ready.pk)}).context["cl"].result_count == 1
    assert admin_client.get(reverse(CHANGELIST), {"q": "not-a-uuid"}).status_code == 200


def test_the_task_page_shows_the_timeline_and_the_policy(admin_client: Client) -> None:
    record = task(status=Status.SUCCESSFUL, attempts=3, started=100, finished=10)
    attempt(
        record,
        1,
        started=100,
        seconds=0.25,
        outcome=Outcome.RETRIED,
        worker_id="oven:7:aa",
        next_delay=10.0,
        error_class="orders.webhooks.Refused",
        error_message="HTTP 503",
    )
    attempt(record, 2, started=80, seconds=1.5, outcome=Outcome.LOST, worker_id="oven:8:bb", next_delay=20.0)
    attempt(record, 3, started=40, seconds=0.5, worker_id="oven:9:cc")
    PolicyOverride.objects.create(task_path=record.task_path, max_attempts=9)
    registry.forget_overrides()
    page = admin_client.get(reverse("admin:retry_taskrecord_change", args=[record.pk])).content.decode()
    for text in ("oven:7:aa", "oven:8:bb", "oven:9:cc", "0.250", "1.500", "Refused: HTTP 503", "10.0", "20.0", "Lost"):
        assert text in page
    assert "3 attempts at most; first retry after 10.0 s" in page
    assert "An override (max_attempts=9) applies to tasks enqueued after it." in page


@pytest.mark.parametrize(
    ("action", "fixture", "after"),
    [
        ("retry_now", "dead", Status.READY),
        ("cancel", "ready", Status.FAILED),
        ("requeue_dead", "dead", Status.READY),
        ("purge", "dead", None),
    ],
)
def test_each_action_asks_first_then_acts_and_logs(
    admin_client: Client,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
    action: str,
    fixture: str,
    after: Status | None,
) -> None:
    record = request.getfixturevalue(fixture)
    before = status_of(record)
    asked = act(admin_client, action, record)
    assert asked.status_code == 200
    assert "Are you sure?" in asked.content.decode()
    assert status_of(record) == before  # nothing happens before the operator confirms
    caplog.set_level(logging.INFO, logger="retry.monitoring.operations")
    done = act(admin_client, action, record, confirmed=True)
    assert done.status_code == 302
    assert status_of(record) == after
    logged = [r for r in caplog.records if r.name == "retry.monitoring.operations"]
    assert [(vars(r)["action"], vars(r)["operator"], vars(r)["changed"]) for r in logged] == [(action, "admin", 1)]


def test_requeue_dead_takes_every_dead_task_of_the_name(admin_client: Client, dead: TaskRecord) -> None:
    other = task(status=Status.FAILED, attempts=3, finished=20)
    elsewhere = task(status=Status.FAILED, attempts=3, finished=20, task_path="tests.tasks.always_fails")
    act(admin_client, "requeue_dead", dead, confirmed=True)
    assert (status_of(dead), status_of(other), status_of(elsewhere)) == (Status.READY, Status.READY, Status.FAILED)


def test_actions_leave_tasks_in_other_states_alone(admin_client: Client, ready: TaskRecord, dead: TaskRecord) -> None:
    act(admin_client, "purge", ready, confirmed=True)
    act(admin_client, "retry_now", ready, confirmed=True)
    act(admin_client, "cancel", dead, confirmed=True)
    assert (status_of(ready), status_of(dead)) == (Status.READY, Status.FAILED)


def test_non_staff_are_refused(client: Client, django_user_model: type[User], dead: TaskRecord) -> None:
    client.force_login(django_user_model.objects.create_user("carol"))
    response = act(client, "retry_now", dead, confirmed=True)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get(reverse("admin:retry_dashboard")).status_code == 302
    assert status_of(dead) == Status.FAILED


def test_staff_who_may_only_view_get_no_actions(client: Client, viewer: User, dead: TaskRecord) -> None:
    client.force_login(viewer)
    assert client.get(reverse(CHANGELIST)).status_code == 200
    act(client, "retry_now", dead, confirmed=True)
    assert status_of(dead) == Status.FAILED
    dashboard_action = client.post(reverse("admin:retry_dashboard_action"), {"action": "retry_now", "target": dead.pk})
    assert dashboard_action.status_code == 403


def test_saving_an_override_takes_effect_at_once(admin_client: Client) -> None:
    path = "tests.tasks.record"
    assert registry.overrides().get(path) is None  # now cached for a few seconds
    response = admin_client.post(
        reverse("admin:retry_policyoverride_add"),
        {"task_path": path, "max_attempts": "7", "note": "flaky mail server"},
    )
    assert response.status_code == 302
    assert registry.overrides()[path] == {"max_attempts": 7}
    override = PolicyOverride.objects.get(task_path=path)
    admin_client.post(reverse("admin:retry_policyoverride_delete", args=[override.pk]), {"post": "yes"})
    assert path not in registry.overrides()


def test_workers_show_which_are_stale(admin_client: Client, settings: Settings) -> None:
    settings.RETRY_WORKER_STALE_AFTER = 60
    heartbeat("oven:1:live", seen=0)
    heartbeat("oven:2:gone", seen=0, pid=2)
    Heartbeat.objects.filter(pk="oven:1:live").update(last_seen=timezone.now())  # the admin judges by the real clock
    page = admin_client.get(reverse("admin:retry_heartbeat_changelist")).content.decode()
    assert page.count('alt="True"') == 1 and page.count('alt="False"') == 1
