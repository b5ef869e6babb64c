import io

import pytest
from django.core.management import call_command
from django.tasks.base import TaskResultStatus as Status

from retry.models import TaskRecord
from tests import tasks

pytestmark = [pytest.mark.django_db]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("tasks", *args, stdout=out)
    return out.getvalue()


def test_the_tasks_command_retries_cancels_requeues_and_purges():
    ready = tasks.record.enqueue("a").id
    dead = [tasks.record.enqueue(f"d{i}").id for i in range(2)]
    TaskRecord.objects.filter(pk__in=dead).update(status=Status.FAILED, attempts=5)

    assert run("cancel", ready) == "cancel: 1 task(s) changed\n"
    assert run("retry_now", dead[0]) == "retry_now: 1 task(s) changed\n"
    assert run("requeue_dead", tasks.record.module_path) == "requeue_dead: 2 task(s) changed\n"  # d1 and the cancelled
    assert run("purge", ready, dead[0]) == "purge: 0 task(s) changed\n"  # neither is finished any more
    assert set(TaskRecord.objects.values_list("status", flat=True)) == {Status.READY}
