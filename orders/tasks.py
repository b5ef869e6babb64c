"""The orders' background tasks: thin, they take ids and call a service. `order_id` is a keyword everywhere,
so the kitchen board finds an order's tasks with TaskRecord.objects.filter(kwargs__order_id=...)."""

from orders import emails, maintenance
from orders.webhooks import deliveries
from retry.api import task


@task(queue_name="emails", max_attempts=8)
def send_order_email(order_id: int, kind: str) -> bool:
    """Send the order's `kind` e-mail (received, ready, cancelled) unless it went out already."""
    return emails.send_order_email(order_id, kind)


@task(queue_name="webhooks", max_attempts=deliveries.MAX_ATTEMPTS, time_limit=120)
def deliver_webhook(delivery_id: int, order_id: int) -> str:
    """POST one webhook event; `order_id` names the order for lookups."""
    return deliveries.deliver_webhook(delivery_id)


@task(queue_name="maintenance", time_limit=900)
def clean_up() -> dict[str, int]:
    """Remove old webhook deliveries and fail those no task will finish."""
    return maintenance.clean_up()
