"""Several TASKS aliases of the retry backend, each with its own OPTIONS, queues and workers, across every stage:
enqueue, checks, dispatcher, workers, the embedded server and the figures."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.routing import get_default_application
from django.tasks import Task
from django.test import override_settings
from django.utils import timezone

from retry import checks, conf, routing
from retry.api import task
from retry.backend import RetryBackend
from retry.dispatcher import Dispatcher
from retry.embedded import Embedded
from retry.exceptions import PolicyMisconfigured
from retry.models import TaskAttempt, TaskRecord
from retry.monitoring import stats
from retry.outbox import outbox
from retry.worker import runner
from retry.worker.runner import Runner
from tests import tasks
from tests.retry.conftest import all_finished, wait_for

BULK = {
    "BACKEND": "retry.backend.RetryBackend",
    "QUEUES": ["bulk", "reports"],
    "OPTIONS": {"MAX_ATTEMPTS": 2, "BASE_DELAY": 0.2, "TIME_LIMIT": 20, "LEASE": 45, "CONCURRENCY": 3},
}


def two_backends(**bulk: object) -> dict[str, object]:
    from django.conf import settings

    return {"default": copy.deepcopy(settings.TASKS["default"]), "bulk": {**BULK, **bulk}}


@pytest.fixture
def bulk() -> Iterator[Task[[str], str]]:
    with override_settings(TASKS=two_backends()):
        yield tasks.record.using(backend="bulk", queue_name="bulk")


@pytest.mark.services
@pytest.mark.django_db
def test_a_task_of_another_alias_runs_under_that_backends_options(bulk: Task[[str], str]) -> None:
    result = bulk.enqueue("bulk-1")
    row = TaskRecord.objects.get(pk=result.id)
    assert (row.queue, row.max_attempts, row.time_limit, row.policy["base_delay"]) == ("bulk", 2, 20, 0.2)
    assert result.backend == "bulk"
    plain = TaskRecord.objects.get(pk=tasks.record.enqueue("plain").id)
    assert plain.max_attempts == conf.get().MAX_ATTEMPTS and plain.time_limit == conf.get().TIME_LIMIT


@pytest.mark.django_db
def test_the_queues_come_from_each_backend_and_their_workers_take_its_options(bulk: Task[[str], str]) -> None:
    assert conf.queues("bulk") == ["bulk", "reports"]
    assert set(conf.queues()) == set(conf.queues("default")) | {"bulk", "reports"}
    assert conf.backend_of("reports") == "bulk" and conf.backend_of("default") == "default"
    runner = Runner(queues=["bulk", "reports"])
    assert (runner.concurrency, runner.lease) == (3, 45)
    assert Runner(queues=["default"]).concurrency == conf.get().CONCURRENCY


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_sends_every_backends_due_tasks_to_their_channels(
    bulk: Task[[str], str], layer_messages: Callable[[str], list[dict[str, object]]]
) -> None:
    later = timezone.now() + timedelta(seconds=1)
    task_id = bulk.using(run_after=later).enqueue("bulk-due").id
    layer_messages("bulk")
    Dispatcher().tick(now=later + timedelta(seconds=1))
    outbox.flush()
    assert [message["id"] for message in layer_messages("bulk")] == [task_id]


@pytest.mark.django_db
def test_the_embedded_server_runs_a_worker_per_backend(bulk: Task[[str], str]) -> None:
    embedded = Embedded(application=None, channel_layer=get_channel_layer())
    served = sorted(sorted(worker.runner.queues) for worker in embedded.workers)
    assert served == sorted([sorted(conf.queues("default")), ["bulk", "reports"]])


@pytest.mark.parametrize(
    ("bulk", "said"),
    [
        ({"OPTIONS": {"LEASE": 0}}, "TASKS['bulk']['OPTIONS']['LEASE'] must be positive, not 0."),
        (
            {"OPTIONS": {"LEASE": 0.3}},
            "TASKS['bulk']['OPTIONS']['LEASE'] must be at least twice RETRY_HEARTBEAT_INTERVAL (0.2 s), not 0.3",
        ),
        ({"OPTIONS": {"CONCURRENCY": "8"}}, "TASKS['bulk']['OPTIONS']['CONCURRENCY'] must be a whole number, not '8'."),
        ({"OPTIONS": {"CONCURRENCY": 2.5}}, "TASKS['bulk']['OPTIONS']['CONCURRENCY'] must be a whole number, not 2.5."),
        ({"QUEUES": []}, "TASKS['bulk']['QUEUES'] is empty"),
        ({"OPTIONS": {"RETRIES": 3}}, "TASKS['bulk']['OPTIONS'] has an unknown option 'RETRIES'"),
        ({"OPTIONS": {"BASE_DELAY": 0.001}}, "TASKS['bulk']['OPTIONS']: BASE_DELAY"),
        ({"QUEUES": ["default"]}, "The queue 'default' belongs to several retry backends (bulk, default)"),
        ({"OPTIONS": {"DATABASE": "tasks"}}, "The retry backends' DATABASE options differ (default, tasks)"),
    ],
)
def test_a_bad_backend_configuration_fails_the_system_check_naming_it(bulk: dict[str, object], said: str) -> None:
    with override_settings(TASKS=two_backends(**bulk)):
        errors = checks.check_backends()
    assert [error.id for error in errors] == ["retry.E003"], [error.msg for error in errors]
    assert said in errors[0].msg


@pytest.mark.django_db
def test_the_figures_say_which_backend_serves_each_queue(bulk: Task[[str], str]) -> None:
    bulk.enqueue("bulk-figures")
    by_queue = {queue["queue"]: queue["backend"] for queue in stats.snapshot().as_dict()["queues"]}
    assert by_queue["bulk"] == "bulk" and by_queue["default"] == "default"


def test_a_worker_runs_the_queues_of_one_backend(bulk: Task[[str], str]) -> None:
    from django.core.management.base import CommandError

    from retry.management.commands import runworker

    assert runworker.chosen_queues([], [], "bulk") == ["bulk", "reports"]
    assert runworker.chosen_queues([], []) == conf.queues("default")
    with pytest.raises(CommandError, match="--backend 'bulky' is not a retry backend; TASKS has default, bulk"):
        runworker.chosen_queues([], [], "bulky")
    with pytest.raises(CommandError, match=r"several retry backends: default \(default\), bulk \(bulk\)"):
        runworker.one_backend(runworker.chosen_queues([], ["default,bulk"]))
    with pytest.raises(CommandError, match=r"--backend 'bulk' does not serve emails \(default\)"):
        runworker.one_backend(runworker.chosen_queues([], ["emails"], "bulk"), "bulk")
    assert runworker.one_backend(["reports"], "bulk") == ["reports"]


class AuditedBackend(RetryBackend):
    """A project's own subclass of the retry backend."""


def test_a_subclass_of_the_retry_backend_is_one_of_its_backends(bulk: Task[[str], str]) -> None:
    with override_settings(TASKS={**two_backends(), "bulk": {**BULK, "BACKEND": f"{__name__}.AuditedBackend"}}):
        assert conf.queues("bulk") == ["bulk", "reports"]
        assert "tasks.reports" in routing.channel_routes()


def test_task_options_are_checked_against_their_backends_options() -> None:
    with override_settings(TASKS=two_backends(OPTIONS={"BASE_DELAY": 0.4})):
        with pytest.raises(PolicyMisconfigured, match="max_delay must be at least the base delay"):
            task(backend="bulk", queue_name="bulk", max_delay=0.3)(tasks.record.func)
        assert task(queue_name="default", max_delay=0.3)(tasks.record.func).max_delay == 0.3  # fine by default's


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
async def test_the_embedded_server_runs_each_backends_tasks_on_that_backends_worker(
    bulk: Task[[str], str], layer: Any
) -> None:
    embedded = Embedded(get_default_application(), get_channel_layer())
    embedded.start()
    try:
        bulk_id = (await sync_to_async(bulk.enqueue)("bulk-run")).id
        plain_id = (await sync_to_async(tasks.record.enqueue)("plain-run")).id
        await wait_for(all_finished, what="a task of each backend to finish")
    finally:
        await embedded.stop()
        outbox.use_loop(None)
        runner.install(None)
    attempts = TaskAttempt.objects.filter(task_id__in=[bulk_id, plain_id])  # the dispatcher's periodic tasks aside
    ran_on = await sync_to_async(lambda: dict(attempts.values_list("task_id", "worker_id")))()
    by_backend = {conf.backend_of(worker.runner.queues[0]): worker.runner for worker in embedded.workers}
    assert ran_on == {uuid.UUID(bulk_id): by_backend["bulk"].id, uuid.UUID(plain_id): by_backend["default"].id}
    assert (by_backend["bulk"].concurrency, by_backend["bulk"].lease) == (3, 45)
