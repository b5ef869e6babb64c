"""The hourly clean-up of the order side: old webhook deliveries, and deliveries no task will finish.

(Old finished task rows and the heartbeats of workers long gone are the dispatcher's: retry.housekeeping.)
"""

from datetime import datetime, timedelta

from django.conf import settings

from orders.models import WebhookDelivery
from orders.webhooks import deliveries
from retry import clock

#: Days webhook delivery rows are kept, unless WEBHOOK_DELIVERY_RETENTION says otherwise.
DEFAULT_DELIVERY_RETENTION_DAYS = 30


def clean_up(now: datetime | None = None) -> dict[str, int]:
    """Remove what is past its retention; returns how many rows of each kind went."""
    now = now or clock.db_now()
    return {
        "webhook_deliveries": remove_old_deliveries(now),
        "orphaned_deliveries": deliveries.fail_orphans(),
    }


def remove_old_deliveries(now: datetime) -> int:
    days = getattr(settings, "WEBHOOK_DELIVERY_RETENTION", DEFAULT_DELIVERY_RETENTION_DAYS)
    old = WebhookDelivery.objects.filter(created_at__lt=now - timedelta(days=days))
    return old.delete()[1].get("orders.WebhookDelivery", 0)
