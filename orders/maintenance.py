"""The hourly clean-up: old webhook deliveries, deliveries no task will finish, heartbeats of workers long gone,
old finished task rows."""

from datetime import datetime, timedelta

from django.conf import settings

from orders import deliveries
from orders.models import WebhookDelivery
from retry import clock, conf, transitions
from retry.models import Heartbeat

#: Days webhook delivery rows are kept, unless WEBHOOK_DELIVERY_RETENTION says otherwise.
DEFAULT_DELIVERY_RETENTION_DAYS = 30
#: A heartbeat this many times older than RETRY_WORKER_STALE_AFTER belongs to a process that is gone for good.
STALE_HEARTBEAT_FACTOR = 10


def clean_up(now: datetime | None = None) -> dict[str, int]:
    """Remove what is past its retention; returns how many rows of each kind went."""
    now = now or clock.db_now()
    return {
        "webhook_deliveries": remove_old_deliveries(now),
        "orphaned_deliveries": deliveries.fail_orphans(),
        "heartbeats": remove_stale_heartbeats(now),
        "tasks": purge_finished_tasks(now),
    }


def remove_old_deliveries(now: datetime) -> int:
    days = getattr(settings, "WEBHOOK_DELIVERY_RETENTION", DEFAULT_DELIVERY_RETENTION_DAYS)
    old = WebhookDelivery.objects.filter(created_at__lt=now - timedelta(days=days))
    return old.delete()[1].get("orders.WebhookDelivery", 0)


def remove_stale_heartbeats(now: datetime) -> int:
    cutoff = now - timedelta(seconds=conf.get().WORKER_STALE_AFTER * STALE_HEARTBEAT_FACTOR)
    return Heartbeat.objects.filter(last_seen__lt=cutoff).delete()[1].get("retry.Heartbeat", 0)


def purge_finished_tasks(now: datetime) -> int:
    """Purge in batches until no old finished row is left."""
    batch = conf.get().DISPATCH_BATCH
    removed = total = transitions.purge(now, batch)
    while removed:
        removed = transitions.purge(now, batch)
        total += removed
    return total
