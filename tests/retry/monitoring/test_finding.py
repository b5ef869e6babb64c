"""The search page: matches and their count for viewers, actions on everything a filter matches for operators only,
asked first with the count, then run as a batch task whose progress the page follows."""

import html
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.tasks.base import TaskResultStatus as Status
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from retry.models import AuditEntry, TaskRecord
from retry.monitoring import batches, search
from tests.retry.rows import task

pytestmark = [pytest.mark.services, pytest.mark.django_db]
SEARCH, ACT = reverse("admin:retry_search"), reverse("admin:retry_search_act")


@pytest.fixture(autouse=True)
def static_root(settings: Settings, tmp_path: Path) -> None:
    settings.STATIC_ROOT = tmp_path  # WhiteNoise warns about a missing one, and warnings fail tests


def staff(django_user_model: type[User], username: str, *codenames: str) -> User:
    user = django_user_model.objects.create_user(username, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def viewer(client: Client, django_user_model: type[User]) -> Client:
    client.force_login(staff(django_user_model, "vera", "view_taskrecord"))
    return client


@pytest.fixture
def operator(client: Client, django_user_model: type[User]) -> Client:
    client.force_login(staff(django_user_model, "otto", "view_taskrecord", "change_taskrecord"))
    return client


def dead(count: int, queue: str = "emails") -> list[TaskRecord]:
    return [task(queue, Status.FAILED, finished=10, attempts=3, kwargs={"order_id": n}) for n in range(count)]


def test_viewers_see_matches_and_their_count_without_action_buttons(viewer: Client) -> None:
    dead(3)
    task("default", kwargs={"order_id": 1})
    page = viewer.get(SEARCH, {"queue": "emails", "status": "FAILED"})
    assert page.status_code == 200
    assert page.context["found"].paginator.count == 3
    body = page.content.decode()
    assert "3 tasks match" in body and 'id="filter-actions"' not in body
    entry = batches.start("retry_now", search.read({"queue": "emails"}), "otto", enqueue=False)
    progress = viewer.get(reverse("admin:retry_batch", args=[entry.pk]), {"format": "json"})
    assert progress.json()["total"] == 3


def test_the_matches_come_a_page_at_a_time(viewer: Client) -> None:
    dead(60)
    first, second = viewer.get(SEARCH, {"status": "FAILED"}), viewer.get(SEARCH, {"status": "FAILED", "page": "2"})
    assert (len(first.context["found"]), len(second.context["found"])) == (50, 10)
    assert "page 1 of 2" in first.content.decode()


def test_a_bad_filter_shows_its_problem_and_no_matches(viewer: Client) -> None:
    page = viewer.get(SEARCH, {"arg": "order_id", "queue": "emails"})
    assert page.status_code == 200 and page.context["found"] is None
    assert "is not key=value" in page.content.decode()


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"since": "999999d"}, "goes back more than 3650 days"),
        ({"arg": "x=NaN"}, "the value holds 'NaN', which JSON cannot hold"),
        ({"arg": 'x="\\u0000"'}, "contains a NUL character"),
        ({"arg": "x=a\x00b"}, "contains a NUL character"),
    ],
)
def test_hostile_input_is_a_form_error_not_a_server_error(
    viewer: Client, operator: Client, query: dict[str, str], said: str
) -> None:
    page = viewer.get(SEARCH, query)
    assert page.status_code == 200 and page.context["found"] is None
    assert said in html.unescape(page.content.decode())
    refused = operator.post(ACT, {"action": "cancel", **query})
    assert refused.status_code == 400 and said in refused.content.decode()


def test_viewers_are_refused_every_action_with_403(viewer: Client) -> None:
    records = dead(2)
    for data in ({"action": "retry_now", "status": "FAILED"}, {"action": "purge", "confirmed": "yes"}):
        assert viewer.post(ACT, data).status_code == 403
    assert set(TaskRecord.objects.values_list("status", flat=True)) == {Status.FAILED}
    assert not AuditEntry.objects.exists()
    assert len(records) == 2


def test_others_get_neither_page(client: Client, django_user_model: type[User]) -> None:
    client.force_login(staff(django_user_model, "kim"))  # staff, without the tasks' permissions
    assert client.get(SEARCH).status_code == 403
    assert client.get(reverse("admin:retry_dashboard")).status_code == 403
    assert client.post(ACT, {"action": "cancel"}).status_code == 403


def test_operators_are_asked_with_the_count_then_the_batch_is_started_and_followed(operator: Client) -> None:
    dead(3)
    dead(2, queue="default")
    task("emails")  # ready: not a dead task, so not counted for a retry
    page = operator.get(SEARCH, {"queue": "emails"})
    assert 'id="filter-actions"' in page.content.decode()
    asked = operator.post(ACT, {"action": "retry_now", "queue": "emails"})
    assert asked.status_code == 200
    assert "Retry now, each with a fresh budget of attempts, the 3 dead tasks this filter matches?" in (
        asked.content.decode()
    )
    assert not AuditEntry.objects.exists()  # nothing happens before the operator confirms
    started = operator.post(ACT, {"action": "retry_now", "queue": "emails", "confirmed": "yes"})
    entry = AuditEntry.objects.get()
    assert started.status_code == 302 and started["Location"] == reverse("admin:retry_batch", args=[entry.pk])
    assert (entry.operator, entry.action, entry.filter, entry.total, entry.state) == (
        "otto",
        "retry_now",
        {"queue": ["emails"]},
        3,
        AuditEntry.State.RUNNING,
    )
    batch_task = TaskRecord.objects.get(pk=entry.task_id)
    assert (batch_task.queue, batch_task.priority, batch_task.status) == ("default", 100, Status.READY)
    assert batch_task.task_path == "retry.monitoring.batch_task.run_batch_action"

    batches.run(entry.pk)  # what the worker does with the batch task

    progress = operator.get(reverse("admin:retry_batch", args=[entry.pk]), {"format": "json"}).json()
    assert {key: progress[key] for key in ("state", "total", "processed", "changed")} == {
        "state": "DONE",
        "total": 3,
        "processed": 3,
        "changed": 3,
    }
    assert TaskRecord.objects.filter(queue="emails", status=Status.READY).count() == 4
    assert TaskRecord.objects.filter(queue="default", status=Status.FAILED).count() == 2
    assert "3 of 3 done, 3 changed" in operator.get(reverse("admin:retry_batch", args=[entry.pk])).content.decode()


def test_bad_action_requests_are_refused(operator: Client) -> None:
    assert operator.post(ACT, {"action": "explode"}).status_code == 400
    assert operator.post(ACT, {"action": "cancel", "queue": "nothere"}).status_code == 400
    assert operator.get(ACT).status_code == 405
