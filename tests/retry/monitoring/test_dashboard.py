"""The task dashboard page in the admin: its figures, where its feed connects, and its actions, each asked first."""

import logging

import pytest
from django.tasks.base import TaskResultStatus as Status
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from retry.models import TaskRecord
from tests.retry.rows import task

pytestmark = [pytest.mark.services, pytest.mark.django_db, pytest.mark.usefixtures("static_root")]


@pytest.fixture
def dead() -> TaskRecord:
    return task(status=Status.FAILED, attempts=3, finished=10, error_class="builtins.KeyError", error_message="'x'")


def status_of(record: TaskRecord) -> str | None:
    return TaskRecord.objects.filter(pk=record.pk).values_list("status", flat=True).first()


def test_the_dashboard_page_carries_the_figures(admin_client: Client, dead: TaskRecord, settings: Settings) -> None:
    settings.RETRY_BACKLOG_ALARM = {"*": 1}
    task("emails", enqueued=120)
    response = admin_client.get(reverse("admin:retry_dashboard"))
    assert response.status_code == 200
    figures = {q["queue"]: q for q in response.context["figures"]["queues"]}
    assert figures["emails"]["ready"] == 1 and figures["emails"]["alarm"] is True
    assert response.context["figures"]["failures"][0]["id"] == str(dead.pk)
    assert 'id="retry-figures"' in response.content.decode()


def test_the_admin_index_links_the_dashboard(admin_client: Client) -> None:
    assert reverse("admin:retry_dashboard") in admin_client.get(reverse("admin:index")).content.decode()


def test_dashboard_actions_ask_first_then_act(
    admin_client: Client, dead: TaskRecord, caplog: pytest.LogCaptureFixture
) -> None:
    url = reverse("admin:retry_dashboard_action")
    asked = admin_client.post(url, {"action": "retry_now", "target": str(dead.pk)})
    assert asked.status_code == 200 and "Retry this dead task now" in asked.content.decode()
    assert status_of(dead) == Status.FAILED
    caplog.set_level(logging.INFO, logger="retry.monitoring.operations")
    done = admin_client.post(url, {"action": "retry_now", "target": str(dead.pk), "confirmed": "yes"})
    assert done.status_code == 302 and done["Location"] == reverse("admin:retry_dashboard")
    assert status_of(dead) == Status.READY
    assert [vars(r)["action"] for r in caplog.records if r.name == "retry.monitoring.operations"] == ["retry_now"]


@pytest.mark.parametrize(
    "data",
    [
        {"action": "explode", "target": "x"},
        {"action": "cancel", "target": "not-a-uuid"},
        {"action": "requeue_dead", "target": ""},
    ],
)
def test_dashboard_actions_refuse_bad_requests(admin_client: Client, data: dict[str, str]) -> None:
    assert admin_client.post(reverse("admin:retry_dashboard_action"), data).status_code == 400


def test_the_dashboard_page_connects_to_retry_feed_path(admin_client: Client, settings: Settings) -> None:
    settings.RETRY_FEED_PATH = "ops/task-feed/"
    page = admin_client.get(reverse("admin:retry_dashboard")).content.decode()
    assert 'data-feed="/ops/task-feed/"' in page
    mounted = admin_client.get(reverse("admin:retry_dashboard"), SCRIPT_NAME="/cakes").content.decode()
    assert 'data-feed="/cakes/ops/task-feed/"' in mounted  # a site mounted under a prefix
