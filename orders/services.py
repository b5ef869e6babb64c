"""Every change of an order or step: atomic, checked against the allowed transitions, announced on commit.

A status change is saved by save_status and its e-mail and webhook are enqueued by enqueue_notifications,
which each service calls itself, in its transaction: nothing is enqueued behind a caller's back.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from orders import events, tasks
from orders.exceptions import (
    IdempotencyKeyReused,
    NotKitchenStaff,
    OrderNotFound,
    StepAlreadyClaimed,
    StepClaimedByOther,
    TransitionNotAllowed,
)
from orders.models import Order, StaffProfile, Step
from orders.webhooks import deliveries
from retry import api

#: The PostgreSQL advisory lock held while an order takes its number.
NUMBER_LOCK = 0x5C00B0A2D
#: Times to pick again when someone else claims the picked step first.
PICK_ATTEMPTS = 3
#: The customer e-mail each order status calls for.
EMAIL_ON_STATUS: dict[str, str] = {
    Order.Status.RECEIVED: "received",
    Order.Status.READY: "ready",
    Order.Status.CANCELLED: "cancelled",
}


def place_order(**fields: Any) -> Order:
    """Create an order and its three steps; fields are Order's customer-facing fields."""
    order = Order(**fields)
    order.full_clean(exclude=["number", "idempotency_key"])
    with transaction.atomic():
        insert_with_next_number(order)
        Step.objects.bulk_create(Step(order=order, kind=kind) for kind in Step.Kind.values)
        enqueue_notifications(order)
        announce(order, "placed")
    return order


def place_order_once(key: str, fingerprint: str, **fields: Any) -> tuple[Order, bool]:
    """place_order for a client that may send a request again: the key's order, and whether it is new."""
    earlier = order_for_key(key, fingerprint)
    if earlier is not None:
        return earlier, False
    try:
        return place_order(idempotency_key=key, request_fingerprint=fingerprint, **fields), True
    except IntegrityError:
        # Rolled back: a request with the same key committed meanwhile.
        earlier = order_for_key(key, fingerprint)
        if earlier is None:
            raise
        return earlier, False


def order_for_key(key: str, fingerprint: str) -> Order | None:
    """The order an earlier request with this Idempotency-Key placed, or None.

    Raises IdempotencyKeyReused when that request was another one (another fingerprint).
    """
    earlier = Order.objects.prefetch_related("steps").filter(idempotency_key=key).first()
    if earlier is not None and earlier.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with another request; send a new key for a new order."
        )
    return earlier


def insert_with_next_number(order: Order) -> None:
    """Insert ``order`` with the number after the highest, inside its caller's transaction."""
    assert connection.in_atomic_block, "an order takes its number in the transaction that inserts it"
    lock_numbers()
    order.number = (Order.objects.aggregate(top=Max("number"))["top"] or 0) + 1
    order.save(force_insert=True)


def lock_numbers() -> None:
    """On PostgreSQL, hand out order numbers one transaction at a time, until this one ends.

    Without it, orders placed at one moment read the same highest number and all but one collide. SQLite's
    transactions (IMMEDIATE) already write one at a time.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [NUMBER_LOCK])


def claim_step(step_id: int, user: AbstractBaseUser) -> Step:
    """Claim a step that nobody works on; the order goes in progress on its first claim."""
    staff = require_staff(user)
    with transaction.atomic():
        order, step = lock_step(step_id)
        if step.status == Step.Status.CLAIMED:
            raise StepAlreadyClaimed(f"Step {step_name(step)} is already claimed by {step.claimed_by}.")
        if step.status == Step.Status.DONE:
            raise TransitionNotAllowed(f"Step {step_name(step)} is done already.")
        step.status, step.claimed_by, step.claimed_at = Step.Status.CLAIMED, staff, timezone.now()
        step.save(update_fields=["status", "claimed_by", "claimed_at"])
        if order.status == Order.Status.RECEIVED:
            save_status(order, Order.Status.IN_PROGRESS)
            enqueue_notifications(order)
        announce(order, "step_claimed")
    return step


def step_order_of(user: AbstractBaseUser) -> list[str]:
    """The user's preferred step kinds first (from their staff profile), then the rest."""
    profile = StaffProfile.objects.filter(user_id=user.pk).first() or StaffProfile(user_id=user.pk)
    return profile.step_order


def next_step_for(user: AbstractBaseUser) -> Step | None:
    """The to-do step the user should take next: the kind they prefer most, from the oldest order that needs it;
    None when every step is taken."""
    todo = Step.objects.todo().filter(order__status__in=[Order.Status.RECEIVED, Order.Status.IN_PROGRESS])
    for kind in step_order_of(user):
        step = todo.filter(kind=kind).order_by("order__created_at", "order_id").first()
        if step is not None:
            return step
    return None


def claim_next_step(user: AbstractBaseUser) -> Step | None:
    """Claim the user's next step; None when nothing is left to do."""
    for attempt in range(PICK_ATTEMPTS):
        step = next_step_for(user)
        if step is None:
            return None
        try:
            return claim_step(step.pk, user)
        except StepAlreadyClaimed:
            if attempt == PICK_ATTEMPTS - 1:
                raise
    return None


def release_step(step_id: int, user: AbstractBaseUser) -> Step:
    """Give back a step one has claimed, so someone else can take it."""
    require_staff(user)
    with transaction.atomic():
        order, step = lock_step(step_id)
        require_claimer(step, user, "release")
        step.status, step.claimed_by, step.claimed_at = Step.Status.TODO, None, None
        step.save(update_fields=["status", "claimed_by", "claimed_at"])
        announce(order, "step_released")
    return step


def finish_step(step_id: int, user: AbstractBaseUser) -> Step:
    """Mark one's claimed step done; the order is ready when its last step is."""
    require_staff(user)
    with transaction.atomic():
        order, step = lock_step(step_id)
        require_claimer(step, user, "finish")
        step.status, step.done_at = Step.Status.DONE, timezone.now()
        step.save(update_fields=["status", "done_at"])
        announce(order, "step_finished")
        if not order.steps.exclude(status=Step.Status.DONE).exists():
            save_status(order, Order.Status.READY, "ready_at")
            enqueue_notifications(order)
            announce(order, "ready")
    return step


def mark_delivered(order_id: int, user: AbstractBaseUser) -> Order:
    """Hand a ready order to its customer."""
    require_staff(user)
    with transaction.atomic():
        order = lock_order(order_id)
        if order.status != Order.Status.READY:
            raise TransitionNotAllowed(
                f"Order {order.label} is {status_text(order)}; only a ready order can be delivered."
            )
        save_status(order, Order.Status.DELIVERED, "delivered_at")
        enqueue_notifications(order)
        announce(order, "delivered")
    return order


def cancel_order(order_id: int, user: AbstractBaseUser) -> Order:
    """Call off an order that is not delivered or cancelled yet."""
    require_staff(user)
    with transaction.atomic():
        order = lock_order(order_id)
        if not order.is_open:
            raise TransitionNotAllowed(f"Order {order.label} is {status_text(order)}; it can no longer be cancelled.")
        save_status(order, Order.Status.CANCELLED, "cancelled_at")
        enqueue_notifications(order)
        announce(order, "cancelled")
    return order


def lock_order(order_id: int) -> Order:
    """Read the order with a row lock, so changes to it and its steps happen one at a time."""
    try:
        return Order.objects.select_for_update().get(pk=order_id)
    except Order.DoesNotExist:
        raise OrderNotFound(f"There is no order with id {order_id}.") from None


def lock_step(step_id: int) -> tuple[Order, Step]:
    """Lock the step's order, refusing orders whose steps are closed, then read the step."""
    order_id = Step.objects.filter(pk=step_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise OrderNotFound(f"There is no step with id {step_id}.")
    order = lock_order(order_id)
    if order.status not in (Order.Status.RECEIVED, Order.Status.IN_PROGRESS):
        raise TransitionNotAllowed(f"Order {order.label} is {status_text(order)}; its steps can no longer change.")
    step = Step.objects.select_related("claimed_by").get(pk=step_id)
    step.order = order
    return order, step


def require_claimer(step: Step, user: AbstractBaseUser, verb: str) -> None:
    if step.status == Step.Status.TODO:
        raise TransitionNotAllowed(f"Step {step_name(step)} is not claimed; claim it before you {verb} it.")
    if step.status == Step.Status.DONE:
        raise TransitionNotAllowed(f"Step {step_name(step)} is done already.")
    if step.claimed_by_id != user.pk:
        raise StepClaimedByOther(
            f"Step {step_name(step)} is claimed by {step.claimed_by}; only {step.claimed_by} can {verb} it."
        )


def save_status(order: Order, status: str, stamp: str | None = None) -> None:
    """Write the order's new status (and the time field ``stamp``, now); it enqueues nothing."""
    order.status = status
    fields = ["status", "updated_at"]
    if stamp:
        setattr(order, stamp, timezone.now())
        fields.append(stamp)
    order.save(update_fields=fields)


def enqueue_notifications(order: Order) -> None:
    """Enqueue the e-mail and the webhook the order's new status calls for, in the caller's transaction.

    The task rows commit or roll back with the change; the idempotency key stops a second e-mail task
    while the first is unfinished, and the order's done marker stops it after.
    """
    kind = EMAIL_ON_STATUS.get(order.status)
    if kind is not None:
        key = f"order-{order.pk}-email-{kind}"
        api.enqueue(tasks.send_order_email, idempotency_key=key, order_id=order.pk, kind=kind)
    delivery = deliveries.record_event(order)
    if delivery is not None:
        key = f"order-{order.pk}-webhook-{delivery.pk}"
        api.enqueue(tasks.deliver_webhook, idempotency_key=key, delivery_id=delivery.pk, order_id=order.pk)


def require_staff(user: AbstractBaseUser | AnonymousUser) -> User:
    """The user, if they are active kitchen staff; NotKitchenStaff otherwise."""
    if not (isinstance(user, get_user_model()) and user.is_active and user.is_staff):
        raise NotKitchenStaff(f"Only kitchen staff can change orders and steps; {user} is not staff.")
    return user


def status_text(order: Order) -> str:
    return order.get_status_display().lower()


def step_name(step: Step) -> str:
    return f"{step.order.label} {step.kind}"


def announce(order: Order, change: str) -> None:
    """Call the order hook once the transaction commits, so nobody hears of a change that was rolled back."""
    order_id = order.pk
    transaction.on_commit(lambda: events.order_changed(order_id, change))
