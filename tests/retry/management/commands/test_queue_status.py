"""`manage.py queue_status`: the dashboard's summary in the terminal, and as JSON."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.tasks.base import TaskResultStatus as Status
from django.utils import timezone
from pytest_django import Settings

from retry.models import TaskRecord
from tests.retry.rows import heartbeat, task

pytestmark = [pytest.mark.services, pytest.mark.django_db]


def queue_status(*args: str) -> str:
    out = StringIO()
    call_command("queue_status", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def known_tasks(settings: Settings) -> None:
    settings.RETRY_BACKLOG_ALARM = {"emails": 60}
    late = task("emails")
    TaskRecord.objects.filter(pk=late.pk).update(run_after=timezone.now() - timedelta(seconds=600))
    task("emails", status=Status.RUNNING, attempts=1)
    task("webhooks", status=Status.FAILED, attempts=3, error_class="builtins.KeyError", error_message="'url'")
    heartbeat("oven:1:a", seen=0, host="oven")


def test_json_has_every_queue_worker_and_failure(known_tasks: None) -> None:
    figures = json.loads(queue_status("--json"))
    queues = {q["queue"]: q for q in figures["queues"]}
    assert set(queues) == {"default", "emails", "webhooks", "maintenance"}
    assert (queues["emails"]["ready"], queues["emails"]["running"], queues["emails"]["alarm"]) == (1, 1, True)
    assert queues["emails"]["oldest_ready_age"] == pytest.approx(600, abs=5)
    assert queues["emails"]["advised_workers"] >= 1
    assert queues["webhooks"]["dead"] == 1
    assert [w["process_id"] for w in figures["workers"]] == ["oven:1:a"]
    assert figures["failures"][0]["error"] == "KeyError: 'url'"
    assert figures["window"] == 900


def test_the_text_summary_shows_the_same(known_tasks: None) -> None:
    text = queue_status()
    emails = next(line for line in text.splitlines() if line.strip().startswith("emails"))
    _, backend, ready, oldest, *_ = emails.split()
    assert backend == "default"
    assert ready == "1"
    assert float(oldest.removesuffix("s")) == pytest.approx(600, abs=5)
    assert "ALARM emails" in text
    assert "worker oven:101" in text
    assert "KeyError: 'url'" in text
