"""Customer webhook deliveries: one row per event, sent until delivered or given up, never twice once delivered."""

import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from orders import task_facts
from orders.models import Order, WebhookDelivery
from orders.webhooks import client, conf, outcomes, signing
from orders.webhooks.errors import DeliveryFailed, WebhookError
from retry import clock, text
from retry.policy import GiveUp, Retry

logger = logging.getLogger("orders.webhooks")

EVENT_TYPE = "order.status_changed"
#: Attempts per event; the task's policy allows as many, and the row records the give-up.
MAX_ATTEMPTS = 8
#: Characters of the last attempt's error kept on the row.
ERROR_LIMIT = 1000
#: The path of the task that sends a delivery (orders.tasks.deliver_webhook).
TASK_PATH = "orders.tasks.deliver_webhook"
ORPHAN_ERROR = "given up: its delivery task ended without recording an outcome"
#: Seconds an attempt's claim on its row outlasts the delivery deadline, so a crashed attempt frees the row.
CLAIM_MARGIN = 30.0


def record_event(order: Order) -> WebhookDelivery | None:
    """Write the delivery row announcing the order's current status; None when the order has no active webhook."""
    if not order.webhook_url or not order.webhook_enabled:
        return None
    event_id = uuid.uuid4()
    payload = build_event(order, event_id, timezone.now())
    return WebhookDelivery.objects.create(
        order=order, event_id=event_id, status=order.status, url=order.webhook_url, payload=payload
    )


def build_event(order: Order, event_id: uuid.UUID, when: datetime) -> dict[str, Any]:
    """The event as the webhook documentation describes it."""
    return {
        "id": f"evt_{event_id.hex}",
        "type": EVENT_TYPE,
        "timestamp": iso(when),
        "data": {
            "order_id": order.pk,
            "number": order.number,
            "status": order.status,
            "created_at": iso(order.created_at),
            "ready_at": iso(order.ready_at),
            "delivered_at": iso(order.delivered_at),
            "cancelled_at": iso(order.cancelled_at),
        },
    }


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def deliver_webhook(delivery_id: int) -> str:
    """Send the delivery's event unless it is delivered or given up; raise so the task retries as the answer says."""
    delivery = start_attempt(delivery_id)
    if delivery is None:
        return "nothing to send"
    outcome, duration = attempt(delivery)
    final = outcome.delivered or outcome.permanent or delivery.attempts >= MAX_ATTEMPTS
    finish_attempt(delivery, outcome, duration, final=final)
    steer(outcome, final)
    return outcome.reason


def start_attempt(delivery_id: int) -> WebhookDelivery | None:
    """Claim the row for one attempt (a conditional UPDATE); None when there is nothing left to send."""
    pending = WebhookDelivery.objects.pending().filter(pk=delivery_id)
    claim_seconds = conf.timeout() + CLAIM_MARGIN
    claimed = pending.filter(Q(sending_until__isnull=True) | Q(sending_until__lt=clock.now_plus(0))).update(
        attempts=F("attempts") + 1, sending_until=clock.now_plus(claim_seconds), last_attempt_at=clock.now_plus(0)
    )
    if not claimed:
        if pending.exists():
            raise Retry(delay=claim_seconds, reason="another attempt at this delivery is under way")
        return None
    delivery = WebhookDelivery.objects.select_related("order").get(pk=delivery_id)
    if not delivery.order.webhook_enabled:
        disabled = outcomes.DeliveryOutcome(delivered=False, reason="the order's webhook is disabled", permanent=True)
        finish_attempt(delivery, disabled, None, final=True)
        return None
    return delivery


def attempt(delivery: WebhookDelivery) -> tuple[outcomes.DeliveryOutcome, float | None]:
    """POST the event, signed with a fresh timestamp, and classify the answer; the secret stays in this frame."""
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    started = time.monotonic()
    try:
        headers = signing.headers(conf.secrets(), delivery.webhook_id, int(time.time()), body)
        response = client.post_json(
            delivery.url,
            body,
            headers,
            deadline=conf.timeout(),
            max_response_bytes=conf.max_response_bytes(),
        )
    except ImproperlyConfigured as error:
        return outcomes.DeliveryOutcome(delivered=False, reason=f"not sent: {error}", permanent=True), None
    except WebhookError as error:
        return outcomes.classify_error(error), time.monotonic() - started
    except Exception as error:  # unforeseen, yet the attempt is recorded, so the row still ends final
        logger.exception("Webhook attempt failed unexpectedly", extra={"delivery_id": delivery.pk})
        return outcomes.DeliveryOutcome(
            delivered=False, reason=f"{type(error).__name__}: {error}"
        ), time.monotonic() - started
    return outcomes.classify(response.status, response.headers), response.duration


def finish_attempt(
    delivery: WebhookDelivery, outcome: outcomes.DeliveryOutcome, duration: float | None, *, final: bool
) -> None:
    """Record the attempt on the row; a 410 also switches the order's webhook off."""
    now = timezone.now()
    error = "" if outcome.delivered else outcome.reason
    if final and outcome.retryable:
        error = f"{error} (given up after {delivery.attempts} attempts)"
    error = text.storable(error, ERROR_LIMIT)
    fields: dict[str, Any] = {"response_status": outcome.status, "duration": duration, "error": error}
    if final:
        fields["delivered_at" if outcome.delivered else "failed_at"] = now
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(sending_until=None, **fields)
        if outcome.disable:
            Order.objects.filter(pk=delivery.order_id).update(webhook_enabled=False)
    level = logging.INFO if outcome.delivered else logging.WARNING
    logger.log(level, "Webhook attempt", extra=log_fields(delivery, outcome))


def fail_orphans() -> int:
    """Fail the pending deliveries no task will try again (a worker killed at the last attempt, the database
    down while it was recorded); returns how many."""
    # The pending deliveries first, their tasks after: a delivery is committed with its task, so one read here has
    # its task in the second read, unless that task is gone. The other order would miss the task of a delivery
    # committed between the two reads, and fail a delivery that is about to be tried.
    pending = list(WebhookDelivery.objects.pending().values_list("pk", flat=True))
    if not pending:
        return 0
    tried = set(task_facts.delivery_ids_with_unfinished_tasks(TASK_PATH))
    orphans = WebhookDelivery.objects.pending().filter(pk__in=[pk for pk in pending if pk not in tried])
    return orphans.update(sending_until=None, failed_at=timezone.now(), error=ORPHAN_ERROR)


def steer(outcome: outcomes.DeliveryOutcome, final: bool) -> None:
    """Raise what tells the retry layer to stop or to try again (after Retry-After, when the receiver sent one)."""
    if outcome.delivered:
        return
    if final:
        raise GiveUp(outcome.reason)
    if outcome.retry_after is not None:
        raise Retry(delay=outcome.retry_after, reason=outcome.reason)
    raise DeliveryFailed(outcome.reason, status=outcome.status)


def log_fields(delivery: WebhookDelivery, outcome: outcomes.DeliveryOutcome) -> dict[str, Any]:
    return {
        "order_id": delivery.order_id,
        "delivery_id": delivery.pk,
        "webhook_id": delivery.webhook_id,
        "attempt": delivery.attempts,
        "response_status": outcome.status,
        "outcome": outcome.reason,
    }
