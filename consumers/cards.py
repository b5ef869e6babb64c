"""What the boards show of each open order, read from the database: a card per order, as plain JSON data."""

from typing import Any

from django.db.models import Prefetch

from orders.models import Order, Step
from orders.task_facts import isoformat, tasks_by_order

#: Pickup screen columns: the order statuses each one shows.
PICKUP_COLUMNS: dict[str, str] = {
    Order.Status.RECEIVED: "being_made",
    Order.Status.IN_PROGRESS: "being_made",
    Order.Status.READY: "ready",
}


def open_orders() -> Any:
    steps = Step.objects.select_related("claimed_by").order_by("id")
    return Order.objects.open().order_by("created_at", "id").prefetch_related(Prefetch("steps", queryset=steps))


def kitchen_cards() -> list[dict[str, Any]]:
    """A card for every open order, oldest first."""
    orders = list(open_orders())
    tasks = tasks_by_order(order.pk for order in orders)
    return [kitchen_card(order, tasks.get(order.pk, [])) for order in orders]


def kitchen_card_of(order_id: int) -> dict[str, Any] | None:
    """The card of one order, or None when it is not open (or not there)."""
    return kitchen_cards_of([order_id])[order_id]


def kitchen_cards_of(order_ids: list[int]) -> dict[int, dict[str, Any] | None]:
    """The card of each order, None for those not open (or not there): three queries for any number of orders."""
    orders = list(open_orders().filter(pk__in=order_ids))
    tasks = tasks_by_order(order.pk for order in orders)
    found = {order.pk: kitchen_card(order, tasks.get(order.pk, [])) for order in orders}
    return {order_id: found.get(order_id) for order_id in order_ids}


def kitchen_card(order: Order, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": order.pk,
        "number": order.number,
        "label": order.label,
        "status": order.status,
        "customer_name": order.customer_name,
        "flavour": order.get_flavour_display(),
        "size": order.size,
        "message": order.message,
        "created_at": isoformat(order.created_at),
        "ready_at": isoformat(order.ready_at),
        "steps": [step_data(step) for step in order.steps.all()],
        "tasks": tasks,
    }


def step_data(step: Step) -> dict[str, Any]:
    return {
        "id": step.pk,
        "kind": step.kind,
        "status": step.status,
        "claimed_by": step.claimed_by.get_username() if step.claimed_by else None,
        "claimed_at": isoformat(step.claimed_at),
        "done_at": isoformat(step.done_at),
    }


def pickup_cards() -> dict[int, dict[str, Any]]:
    """Number and column of every open order by order id, and nothing else: the pickup screen is public."""
    orders = Order.objects.open().order_by("number").values_list("pk", "number", "status")
    return {pk: pickup_card(number, status) for pk, number, status in orders}


def pickup_card_of(order_id: int) -> dict[str, Any] | None:
    return pickup_cards_of([order_id])[order_id]


def pickup_cards_of(order_ids: list[int]) -> dict[int, dict[str, Any] | None]:
    """The pickup card of each order, None for those not open: one query for any number of orders."""
    rows = Order.objects.open().filter(pk__in=order_ids).values_list("pk", "number", "status")
    found = {pk: pickup_card(number, status) for pk, number, status in rows}
    return {order_id: found.get(order_id) for order_id in order_ids}


def pickup_card(number: int, status: str) -> dict[str, Any]:
    return {"number": number, "label": f"#{number:03d}", "column": PICKUP_COLUMNS[status]}
