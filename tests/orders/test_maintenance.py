"""The hourly clean-up of the order side: what it removes, what it keeps, and that the dispatcher schedules it.

(Old task rows and stale heartbeats: tests/retry/test_housekeeping.py.)"""

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import QuerySet
from django.tasks.base import TaskResultStatus as Status
from django.utils import timezone
from pytest_django import Settings

from orders import maintenance, services, task_facts
from orders.models import Order, WebhookDelivery
from retry import schedules
from retry.models import TaskRecord
from retry.worker.process import RetryWorker
from tests.factories import ORDER_FIELDS
from tests.retry.conftest import all_finished, wait_for

pytestmark = pytest.mark.services


def age(rows: QuerySet[Any], **fields_days_ago: float) -> None:
    now = timezone.now()
    rows.update(**{name: now - timedelta(days=days) for name, days in fields_days_ago.items()})


@pytest.mark.django_db
def test_a_pending_delivery_whose_task_ended_is_failed_and_says_why(hooked_orders: list[Order]) -> None:
    orphan, live = (WebhookDelivery.objects.get(order=order) for order in hooked_orders)
    # As after a worker killed during the last attempt: the task is FAILED, the row still claimed and pending.
    TaskRecord.objects.filter(kwargs__delivery_id=orphan.pk).update(status=Status.FAILED, error_message="lost")
    WebhookDelivery.objects.filter(pk=orphan.pk).update(attempts=8, sending_until=timezone.now())

    assert maintenance.clean_up()["orphaned_deliveries"] == 1
    orphan.refresh_from_db()
    assert (orphan.state, orphan.sending_until) == ("failed", None)
    assert orphan.error == "given up: its delivery task ended without recording an outcome"
    assert WebhookDelivery.objects.get(pk=live.pk).state == "pending"  # its task is still READY


@pytest.mark.services
@pytest.mark.django_db
def test_an_unfinished_delivery_task_without_a_delivery_id_hides_no_orphan(hooked_orders: list[Order]) -> None:
    orphan, live = (WebhookDelivery.objects.get(order=order) for order in hooked_orders)
    TaskRecord.objects.filter(kwargs__delivery_id=orphan.pk).update(status=Status.FAILED, error_message="lost")
    TaskRecord.objects.filter(kwargs__delivery_id=live.pk).update(kwargs={})  # a row from an older deploy, say
    live.delete()

    assert maintenance.clean_up()["orphaned_deliveries"] == 1  # NOT IN (..., NULL) would have matched nothing
    orphan.refresh_from_db()
    assert orphan.state == "failed"


@pytest.mark.django_db
def test_a_delivery_committed_while_the_clean_up_reads_is_no_orphan(
    hooked_orders: list[Order], monkeypatch: pytest.MonkeyPatch
) -> None:
    read_tasks, placed = task_facts.delivery_ids_with_unfinished_tasks, []

    def then_an_order_is_placed(task_path: str) -> list[int]:
        tried = read_tasks(task_path)
        placed.append(services.place_order(**ORDER_FIELDS, webhook_url="https://example.com/hook"))
        return tried

    monkeypatch.setattr(task_facts, "delivery_ids_with_unfinished_tasks", then_an_order_is_placed)
    assert maintenance.clean_up()["orphaned_deliveries"] == 0
    assert WebhookDelivery.objects.get(order=placed[0]).state == "pending"


@pytest.fixture
def hooked_orders(settings: Settings) -> list[Order]:
    settings.WEBHOOK_ALLOWED_PORTS = [443]
    return [services.place_order(**ORDER_FIELDS, webhook_url="https://example.com/hook") for _ in range(2)]


@pytest.mark.django_db
def test_old_webhook_deliveries_go_and_recent_ones_stay(hooked_orders: list[Order], settings: Settings) -> None:
    settings.WEBHOOK_DELIVERY_RETENTION = 30
    old, recent = (WebhookDelivery.objects.get(order=order) for order in hooked_orders)
    age(WebhookDelivery.objects.filter(pk=old.pk), created_at=31)
    age(WebhookDelivery.objects.filter(pk=recent.pk), created_at=29)

    assert maintenance.clean_up()["webhook_deliveries"] == 1
    assert list(WebhookDelivery.objects.all()) == [recent]


@pytest.mark.django_db
def test_the_dispatcher_schedules_the_clean_up_on_the_maintenance_queue() -> None:
    now = timezone.now()
    assert schedules.enqueue_due(now) == 1
    assert schedules.enqueue_due(now) == 0  # another dispatcher pass in the same hour enqueues nothing more

    [record] = TaskRecord.objects.filter(task_path="orders.tasks.clean_up")
    assert record.queue == "maintenance"


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
async def test_the_worker_runs_the_scheduled_clean_up(worker: RetryWorker) -> None:
    await wait_for(lambda: TaskRecord.objects.filter(task_path="orders.tasks.clean_up").exists(), what="the schedule")
    await wait_for(all_finished, what="the clean-up")

    record = await TaskRecord.objects.aget(task_path="orders.tasks.clean_up")
    assert record.status == Status.SUCCESSFUL
    assert record.return_value is not None
    assert set(record.return_value) == {"webhook_deliveries", "orphaned_deliveries"}
