"""Queue controls for operators: limits edited and validated in the admin, pauses from the dashboard, and the
paused state in /metrics, queue_status and the dashboard's figures."""

import json
import logging
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from retry import controls
from retry.forms import TaskLimitForm
from retry.models import QueuePause, TaskLimit
from retry.monitoring import operations, stats
from tests.retry.monitoring.test_metrics import TOKEN, sample, scrape

pytestmark = [pytest.mark.services, pytest.mark.django_db]
RECORD = "tests.tasks.record"


@pytest.fixture(autouse=True)
def setup(settings: Settings, tmp_path: Path) -> Iterator[None]:
    settings.STATIC_ROOT = tmp_path  # WhiteNoise warns about a missing one
    settings.METRICS_TOKEN = TOKEN
    controls.forget()
    yield
    controls.forget()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"task_path": "tests.tasks.nope"}, "task_path", "cannot be imported"),
        ({"task_path": "tests.tasks.Flaky", "concurrency": "2"}, "task_path", "is not a task"),
        ({}, "__all__", "Set a concurrency limit, a rate limit, or both."),
        ({"concurrency": "0"}, "concurrency", "greater than or equal to 1"),
        ({"rate": "0"}, "rate", "greater than or equal to 1"),
        ({"rate": "1001"}, "rate", "less than or equal to 1000"),
        ({"rate": "5", "period": "0"}, "period", "greater than or equal to 0.001"),
        ({"rate": "5", "period": "100000"}, "period", "less than or equal to 86400"),
        ({"rate": "5", "period": "nan"}, "period", "Enter a number."),
        ({"concurrency": "-3"}, "concurrency", "greater than or equal to"),
    ],
)
def test_the_limit_form_refuses_what_cannot_work_and_says_why(data: dict[str, str], field: str, message: str) -> None:
    form = TaskLimitForm({"task_path": RECORD, "period": "1", **data})
    assert not form.is_valid()
    assert any(message in error for error in form.errors[field]), form.errors


def test_a_limit_saved_in_the_admin_applies_to_the_next_claim_and_keeps_the_starts(admin_client: Client) -> None:
    assert controls.current().limited == frozenset()
    response = admin_client.post(
        reverse("admin:retry_tasklimit_add"), {"task_path": RECORD, "concurrency": "2", "period": "1", "note": ""}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert controls.current().limited == {RECORD}  # this process reads it again at once

    limit = TaskLimit.objects.get()
    TaskLimit.objects.update(recent_starts=[1.0, 2.0])  # written by claims since the page was shown
    admin_client.post(
        reverse("admin:retry_tasklimit_change", args=[limit.pk]),
        {"task_path": RECORD, "concurrency": "3", "rate": "10", "period": "60", "note": "slow partner API"},
    )
    limit.refresh_from_db()
    assert (limit.concurrency, limit.rate, limit.period, limit.recent_starts) == (3, 10, 60.0, [1.0, 2.0])
    listed = admin_client.get(reverse("admin:retry_tasklimit_changelist")).content.decode()
    assert "at most 3 running, at most 10 starts per 60 s" in listed


def test_the_dashboard_pauses_and_resumes_a_queue_after_asking(
    admin_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    url = reverse("admin:retry_dashboard_action")
    asked = admin_client.post(url, {"action": "pause", "target": "emails"})
    assert asked.status_code == 200 and "Pause this queue?" in asked.content.decode()
    assert not QueuePause.objects.exists()

    caplog.set_level(logging.INFO, logger="retry.monitoring.operations")
    done = admin_client.post(url, {"action": "pause", "target": "emails", "confirmed": "yes"})
    assert done.status_code == 302
    assert list(QueuePause.objects.values_list("queue", "paused_by")) == [("emails", "admin")]
    admin_client.post(url, {"action": "resume", "target": "emails", "confirmed": "yes"})
    assert not QueuePause.objects.exists()
    assert [vars(r)["action"] for r in caplog.records if r.name == "retry.monitoring.operations"] == ["pause", "resume"]


@pytest.mark.parametrize("target", ["", "bulk", "emails; DROP TABLE retry_queuepause"])
def test_the_dashboard_refuses_to_pause_an_unknown_queue(admin_client: Client, target: str) -> None:
    response = admin_client.post(reverse("admin:retry_dashboard_action"), {"action": "pause", "target": target})
    assert response.status_code == 400
    assert not QueuePause.objects.exists()


def test_viewers_cannot_pause(client: Client, django_user_model: type[User]) -> None:
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_taskrecord"))
    client.force_login(viewer)
    data = {"action": "pause", "target": "emails", "confirmed": "yes"}
    assert client.post(reverse("admin:retry_dashboard_action"), data).status_code == 403
    assert not QueuePause.objects.exists()


def test_a_paused_queue_shows_in_metrics_queue_status_and_the_dashboard(client: Client, admin_client: Client) -> None:
    operations.pause(["emails"], "alice")

    samples = scrape(client, Authorization=f"Bearer {TOKEN}")
    assert sample(samples, "retry_queue_paused", queue="emails") == 1.0
    assert sample(samples, "retry_queue_paused", queue="default") == 0.0

    out = StringIO()
    call_command("queue_status", stdout=out)
    text = out.getvalue()
    assert "PAUSED emails by alice" in text
    rows = {line.split()[0]: line.split()[-1] for line in text.splitlines()[1:] if line.strip()}
    assert (rows["emails"], rows["default"]) == ("PAUSED", "active")

    out = StringIO()
    call_command("queue_status", "--json", stdout=out)
    queues = {queue["queue"]: queue for queue in json.loads(out.getvalue())["queues"]}
    assert (queues["emails"]["paused"], queues["emails"]["paused_by"], queues["default"]["paused"]) == (
        True,
        "alice",
        False,
    )

    page = admin_client.get(reverse("admin:retry_dashboard")).content.decode()
    assert '"paused": true' in page and '"paused_by": "alice"' in page


def test_the_figures_say_which_queues_are_paused() -> None:
    operations.pause(["emails", "default"], "ops")
    assert {queue.queue for queue in stats.snapshot().queues if queue.paused} == {"emails", "default"}


def test_the_tasks_command_pauses_and_resumes_and_refuses_an_unknown_queue() -> None:
    out = StringIO()
    call_command("tasks", "pause", "emails", "default", stdout=out)
    assert out.getvalue() == "pause: 2 queue(s) changed\n"
    assert set(QueuePause.objects.values_list("queue", flat=True)) == {"emails", "default"}
    with pytest.raises(CommandError, match="'bulk' is not a queue of a retry backend"):
        call_command("tasks", "resume", "emails", "bulk", stdout=StringIO())
    assert QueuePause.objects.count() == 2  # nothing changed
    call_command("tasks", "resume", "emails", stdout=out)
    assert list(QueuePause.objects.values_list("queue", flat=True)) == ["default"]
