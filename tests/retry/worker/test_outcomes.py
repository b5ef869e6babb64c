"""Outcomes: the successes of tasks that started together are written together; a long task is not waited for."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from pytest_django import Settings

from retry import transitions
from retry.models import TaskRecord
from retry.worker import attempt, outcomes
from tests import tasks
from tests.conftest import running_worker
from tests.retry.conftest import all_finished, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The keys of the tasks each success write carried, in order."""
    batches: list[list[str]] = []
    many, alone = transitions.succeed_many, attempt.succeed_alone

    def succeed_many(successes: list[tuple[TaskRecord, Any, float]]) -> list[bool]:
        batches.append([record.args[0] for record, _, _ in successes])
        return many(successes)

    def succeed_alone(record: TaskRecord, value: Any, duration: float) -> bool:
        batches.append([record.args[0]])
        return alone(record, value, duration)

    monkeypatch.setattr(transitions, "succeed_many", succeed_many)
    monkeypatch.setattr(attempt, "succeed_alone", succeed_alone)
    return batches


@sync_to_async
def enqueue_together(seconds: list[float]) -> None:
    with transaction.atomic():
        for number, wait in enumerate(seconds):
            tasks.sleeps.enqueue(f"sibling-{number}", seconds=wait)


async def test_tasks_claimed_together_write_their_successes_together(
    settings: Settings, layer: Any, writes: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.RETRY_CONCURRENCY = 4
    monkeypatch.setattr(outcomes, "SIBLING_WAIT", 5.0)
    async with running_worker(["default"], dispatcher=False):
        await enqueue_together([0.0, 0.05, 0.1, 0.15])
        await wait_for(all_finished, what="the four tasks")
    assert [sorted(batch) for batch in writes] == [[f"sibling-{number}" for number in range(4)]]


async def test_a_success_does_not_wait_for_a_task_running_past_the_sibling_wait(
    settings: Settings, layer: Any, writes: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.RETRY_CONCURRENCY = 2
    monkeypatch.setattr(outcomes, "SIBLING_WAIT", 0.05)
    async with running_worker(["default"], dispatcher=False):
        await enqueue_together([0.0, 2.0])
        await wait_for(all_finished, what="both tasks")
    assert writes == [["sibling-0"], ["sibling-1"]]
