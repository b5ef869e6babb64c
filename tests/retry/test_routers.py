"""Task rows in a database of their own: the router the DATABASE option needs, enqueues in that database's
transaction, and the whole journey there."""

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings

from retry import checks, transitions
from retry.dispatcher import Dispatcher
from retry.models import TaskRecord
from tests import tasks


def test_task_rows_in_another_database_need_the_router() -> None:
    from django.conf import settings

    options: dict[str, dict[str, Any]] = {
        "default": {**copy.deepcopy(settings.TASKS["default"]), "OPTIONS": {"DATABASE": "tasks"}}
    }
    with override_settings(TASKS=options):
        assert "add 'retry.routers.TaskRouter' to DATABASE_ROUTERS" in checks.check_backends()[0].msg
    options["default"]["OPTIONS"]["DATABASE"] = "elsewhere"
    with override_settings(TASKS=options):
        assert "names 'elsewhere', which DATABASES does not have" in checks.check_backends()[0].msg


@pytest.fixture
def tasks_database() -> Iterator[None]:
    from django.conf import settings

    backends = {"default": {**copy.deepcopy(settings.TASKS["default"]), "OPTIONS": {"DATABASE": "tasks"}}}
    with override_settings(TASKS=backends, DATABASE_ROUTERS=["retry.routers.TaskRouter"]):
        assert checks.check_backends() == []
        yield


@pytest.mark.django_db(databases=["default", "tasks"], transaction=True)
def test_task_rows_live_in_the_database_the_option_names_and_run_there(tasks_database: None) -> None:
    with transaction.atomic(using="tasks"):  # an enqueue commits with the transaction of the task rows' database
        task_id = tasks.record.enqueue("apart").id
    assert TaskRecord.objects.using("tasks").filter(pk=task_id).exists()
    assert not TaskRecord.objects.using("default").filter(pk=task_id).exists()
    [claimed] = transitions.claim_many([task_id], "worker-apart")
    assert transitions.succeed(claimed, "done", 0.01)
    row = TaskRecord.objects.using("tasks").get(pk=task_id)
    assert (row.status, row.return_value, row.attempt_set.count()) == ("SUCCESSFUL", "done", 1)
    assert Dispatcher().tick()["sent"] == 0


@pytest.mark.django_db(databases=["default", "tasks"], transaction=True)
def test_an_enqueue_joins_the_transaction_of_the_task_rows_database_only(tasks_database: None) -> None:
    with contextlib.suppress(RuntimeError), transaction.atomic():  # the caller's transaction, on default
        alone = tasks.record.enqueue("committed-on-its-own").id
        raise RuntimeError
    assert TaskRecord.objects.using("tasks").filter(pk=alone).exists()
    with contextlib.suppress(RuntimeError), transaction.atomic(using="tasks"):
        joined = tasks.record.enqueue("rolled-back-with-it").id
        raise RuntimeError
    assert not TaskRecord.objects.using("tasks").filter(pk=joined).exists()
