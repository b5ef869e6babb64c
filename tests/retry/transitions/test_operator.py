"""An operator's transitions: a dead task run again (and sent at once), every dead task of a name requeued, a ready
one cancelled."""

from collections.abc import Callable
from typing import cast

import pytest
from django.tasks.base import TaskResultStatus as Status

from retry import transitions
from retry.models import TaskRecord
from retry.monitoring import operations
from retry.outbox import outbox
from tests import tasks
from tests.retry.conftest import enqueued

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_operators_retry_cancel_and_requeue(layer_messages: Callable[[str], list[dict[str, object]]]) -> None:
    dead = [enqueued(f"dead-{i}", status=Status.FAILED, attempts=5) for i in range(3)]
    ready = enqueued("ready")
    layer_messages("default")

    assert operations.retry_now([str(dead[0].pk)], "operator") == 1
    assert transitions.retry_now(str(dead[0].pk)) is None  # no longer dead
    outbox.flush()
    assert [m["id"] for m in layer_messages("default")] == [str(dead[0].pk)]  # sent at once, not at the next pass
    assert operations.requeue_dead([tasks.record.module_path], "operator") == 2
    outbox.flush()
    assert sorted(cast(str, m["id"]) for m in layer_messages("default")) == sorted(str(d.pk) for d in dead[1:])
    assert set(TaskRecord.objects.filter(pk__in=[d.pk for d in dead]).values_list("status", "attempts")) == {
        (Status.READY, 0)
    }
    assert transitions.cancel(str(ready.pk)) is True
    assert transitions.cancel(str(ready.pk)) is False
    cancelled = TaskRecord.objects.get(pk=ready.pk)
    assert (cancelled.status, cancelled.error_class) == (Status.FAILED, "retry.exceptions.TaskCancelled")
    assert transitions.claim(str(ready.pk), "worker-1") is None
