"""/metrics: Prometheus' text format with the dashboard's figures, for a staff session or the token only."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.tasks.base import TaskResultStatus as Status
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from pytest_django import Settings

from retry.models import Outcome
from tests.retry.rows import heartbeat, task

pytestmark = [pytest.mark.services, pytest.mark.django_db]
TOKEN = "s3cret-scrape-token"


@pytest.fixture(autouse=True)
def metrics_token(settings: Settings) -> None:
    settings.METRICS_TOKEN = TOKEN


def scrape(client: Client, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def sample(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    """The one sample of ``name`` whose labels include ``labels``."""
    [value] = [value for (found, have), value in samples.items() if found == name and set(labels.items()) <= set(have)]
    return value


def test_the_figures_parse_and_have_the_expected_values(client: Client, settings: Settings) -> None:
    settings.RETRY_BACKLOG_ALARM = {"emails": 60}
    late = task("emails")
    late.enqueued_at = late.run_after = timezone.now() - timedelta(seconds=600)
    late.save()
    task("emails", status=Status.RUNNING, attempts=1)
    for _ in range(2):
        task("webhooks", status=Status.FAILED, attempts=3)
    done = task("default", status=Status.SUCCESSFUL, attempts=2)
    started = timezone.now() - timedelta(seconds=60)
    for number, (seconds, outcome) in enumerate([(0.03, Outcome.RETRIED), (2.0, Outcome.SUCCEEDED)], start=1):
        done.attempt_set.create(
            number=number,
            worker_id="w",
            started_at=started,
            finished_at=started + timedelta(seconds=seconds),
            outcome=outcome,
        )
    beat = heartbeat("oven:1:a", seen=0)
    beat.last_seen = timezone.now()
    beat.save()

    samples = scrape(client, authorization=f"Bearer {TOKEN}")

    assert sample(samples, "retry_queue_ready_tasks", queue="emails", backend="default") == 1
    assert sample(samples, "retry_queue_oldest_ready_age_seconds", queue="emails") == pytest.approx(600, abs=5)
    assert sample(samples, "retry_queue_backlog_alarm", queue="emails") == 1
    assert sample(samples, "retry_queue_backlog_alarm", queue="default") == 0
    assert sample(samples, "retry_queue_running_tasks", queue="emails") == 1
    assert sample(samples, "retry_queue_dead_tasks", queue="webhooks") == 2
    assert sample(samples, "retry_task_attempts", queue="default", outcome="retried") == 1
    assert sample(samples, "retry_task_attempts", queue="default", outcome="succeeded") == 1
    assert sample(samples, "retry_task_attempts", queue="default", outcome="lost") == 0
    assert sample(samples, "retry_task_duration_seconds_bucket", queue="default", le="0.05") == 1
    assert sample(samples, "retry_task_duration_seconds_bucket", queue="default", le="5.0") == 2
    assert sample(samples, "retry_task_duration_seconds_bucket", queue="default", le="+Inf") == 2
    assert sample(samples, "retry_task_duration_seconds_gsum", queue="default") == pytest.approx(2.03, abs=0.01)
    assert sample(samples, "retry_workers", state="live") == 1
    assert sample(samples, "retry_workers", state="stale") == 0
    assert sample(samples, "retry_queue_advised_workers", queue="emails") >= 1


def test_a_staff_session_may_scrape(admin_client: Client) -> None:
    assert "retry_queue_ready_tasks" in {name for name, _ in scrape(admin_client)}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer "])
def test_others_are_refused(client: Client, authorization: str | None) -> None:
    headers = {"authorization": authorization} if authorization else {}
    assert client.get("/metrics", headers=headers).status_code == 403


def test_an_empty_token_lets_no_one_in_without_a_session(client: Client, settings: Settings) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", headers={"authorization": "Bearer "}).status_code == 403


def test_non_staff_sessions_are_refused(client: Client, django_user_model: type[User]) -> None:
    client.force_login(django_user_model.objects.create_user("carol"))
    assert client.get("/metrics").status_code == 403
