"""Orders, the three steps of each cake, and what the kitchen staff prefer to do first."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from orders.validators import validate_webhook_url


class Flavour(models.TextChoices):
    VANILLA = "vanilla", "Vanilla"
    CHOCOLATE = "chocolate", "Chocolate"
    STRAWBERRY = "strawberry", "Strawberry"
    PISTACHIO = "pistachio", "Pistachio"
    MANGO = "mango", "Mango sorbet"
    STRACCIATELLA = "stracciatella", "Stracciatella"


class Size(models.TextChoices):
    SMALL = "small", "Small (4 to 6 people)"
    MEDIUM = "medium", "Medium (8 to 10 people)"
    LARGE = "large", "Large (12 to 16 people)"


class OrderQuerySet(models.QuerySet["Order"]):
    def open(self) -> "OrderQuerySet":
        """Orders the kitchen or the counter still has to act on."""
        return self.filter(status__in=Order.OPEN_STATUSES)

    def closed(self) -> "OrderQuerySet":
        return self.exclude(status__in=Order.OPEN_STATUSES)

    def received(self) -> "OrderQuerySet":
        return self.filter(status=Order.Status.RECEIVED)

    def in_progress(self) -> "OrderQuerySet":
        return self.filter(status=Order.Status.IN_PROGRESS)

    def ready(self) -> "OrderQuerySet":
        return self.filter(status=Order.Status.READY)

    def delivered(self) -> "OrderQuerySet":
        return self.filter(status=Order.Status.DELIVERED)

    def cancelled(self) -> "OrderQuerySet":
        return self.filter(status=Order.Status.CANCELLED)

    def email_not_sent(self, kind: str) -> "OrderQuerySet":
        """Orders owed the `kind` e-mail (received, ready or cancelled) that never went out."""
        owed = {
            "received": self.all(),
            "ready": self.ready(),
            "cancelled": self.cancelled(),
        }
        return owed[kind].filter(**{f"{kind}_notified_at__isnull": True})


class Order(models.Model):
    class Status(models.TextChoices):
        # Placed; no step claimed yet.
        RECEIVED = "received", "Received"
        # At least one step claimed or done.
        IN_PROGRESS = "in_progress", "In progress"
        # Every step done; waiting at the counter.
        READY = "ready", "Ready for pickup"
        # Handed to the customer. Final.
        DELIVERED = "delivered", "Delivered"
        # Called off before delivery. Final.
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATUSES = (Status.RECEIVED, Status.IN_PROGRESS, Status.READY)

    number = models.PositiveIntegerField(unique=True, editable=False, help_text="Shown on the pickup screen.")
    customer_name = models.CharField(max_length=80)
    customer_email = models.EmailField()
    flavour = models.CharField(max_length=20, choices=Flavour.choices)
    size = models.CharField(max_length=10, choices=Size.choices)
    message = models.CharField(max_length=60, blank=True, help_text="Written on the cake.")
    webhook_url = models.URLField(
        max_length=500, blank=True, validators=[validate_webhook_url], help_text="Called when the order changes."
    )
    webhook_enabled = models.BooleanField(default=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    #: The API client's Idempotency-Key: a second POST with it gets this order back instead of a new one.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, unique=True, editable=False)
    #: A hash of the request that came with the key, so the same key with another request is refused.
    request_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    # Done markers of background work, so a retried task does its side effect once.
    received_notified_at = models.DateTimeField(null=True, blank=True)
    ready_notified_at = models.DateTimeField(null=True, blank=True)
    cancelled_notified_at = models.DateTimeField(null=True, blank=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"], name="order_status_created")]

    def __str__(self) -> str:
        return f"{self.label} {self.customer_name}"

    @property
    def label(self) -> str:
        """The number as the pickup screen shows it, e.g. "#042"."""
        return f"#{self.number:03d}" if self.number is not None else "#new"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class StepQuerySet(models.QuerySet["Step"]):
    def todo(self) -> "StepQuerySet":
        return self.filter(status=Step.Status.TODO)

    def claimed(self) -> "StepQuerySet":
        return self.filter(status=Step.Status.CLAIMED)

    def done(self) -> "StepQuerySet":
        return self.filter(status=Step.Status.DONE)


class Step(models.Model):
    class Kind(models.TextChoices):
        SCOOP = "scoop", "Scoop"
        SPREAD = "spread", "Spread"
        DECORATE = "decorate", "Decorate"

    class Status(models.TextChoices):
        # Nobody works on it.
        TODO = "todo", "To do"
        # One staff member works on it; only they can release or finish it.
        CLAIMED = "claimed", "Claimed"
        # Finished. Final.
        DONE = "done", "Done"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.TODO)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="claimed_steps"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    objects = StepQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "kind"], name="step_one_per_kind")]
        ordering = ["order_id", "id"]

    def __str__(self) -> str:
        return f"{self.order.label} {self.kind}"


def parse_step_kinds(value: str) -> list[str]:
    """Split "scoop, decorate" into ["scoop", "decorate"]."""
    return [kind.strip().lower() for kind in value.split(",") if kind.strip()]


class StaffProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    preferred_steps = models.CharField(
        max_length=40,
        blank=True,
        help_text="Step kinds in the order this person likes them, e.g. scoop,decorate,spread.",
    )

    def __str__(self) -> str:
        return f"Staff profile of {self.user}"

    def clean(self) -> None:
        kinds = parse_step_kinds(self.preferred_steps)
        unknown = [kind for kind in kinds if kind not in Step.Kind.values]
        if unknown or len(set(kinds)) != len(kinds):
            raise ValidationError(
                {"preferred_steps": f"List each of {', '.join(Step.Kind.values)} at most once, separated by commas."}
            )
        self.preferred_steps = ",".join(kinds)

    @property
    def step_order(self) -> list[str]:
        """Every step kind: the preferred ones first, then the rest in the usual order."""
        preferred = [kind for kind in parse_step_kinds(self.preferred_steps) if kind in Step.Kind.values]
        return preferred + [kind for kind in Step.Kind.values if kind not in preferred]


class WebhookDeliveryQuerySet(models.QuerySet["WebhookDelivery"]):
    def delivered(self) -> "WebhookDeliveryQuerySet":
        return self.filter(delivered_at__isnull=False)

    def failed(self) -> "WebhookDeliveryQuerySet":
        return self.filter(failed_at__isnull=False)

    def pending(self) -> "WebhookDeliveryQuerySet":
        """Deliveries still being tried: neither delivered nor given up."""
        return self.filter(delivered_at__isnull=True, failed_at__isnull=True)


class WebhookDelivery(models.Model):
    """One webhook event of one order and what became of its delivery; retries update the same row."""

    class State(models.TextChoices):
        # Not sent yet, or being retried.
        PENDING = "pending", "Pending"
        # The receiver answered 2xx. Final.
        DELIVERED = "delivered", "Delivered"
        # Given up: a permanent refusal, an unsafe URL, or attempts ran out. Final.
        FAILED = "failed", "Failed"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="webhook_deliveries")
    #: The event id, sent as `webhook-id` and in the body; the same on every attempt.
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event_type = models.CharField(max_length=40, default="order.status_changed")
    #: The order status this event announces.
    status = models.CharField(max_length=20, choices=Order.Status.choices)
    url = models.CharField("URL", max_length=500)
    #: The event exactly as it is sent, fixed when the change happened.
    payload = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    #: While set and in the future, an attempt is under way and no other may start.
    sending_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds the last attempt took.")
    error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"], name="webhook_delivery_created")]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.webhook_id} ({self.status})"

    @property
    def webhook_id(self) -> str:
        """The event id as sent: "evt_" and 32 hex digits."""
        return f"evt_{self.event_id.hex}"

    @property
    def state(self) -> str:
        if self.delivered_at is not None:
            return self.State.DELIVERED
        if self.failed_at is not None:
            return self.State.FAILED
        return self.State.PENDING
