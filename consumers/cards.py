"""What the boards show of each open order, read from the database: a card per order, as plain JSON data."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Prefetch

from orders.models import Order, Step
from retry.models import TaskRecord

#: Pickup screen columns: the order statuses each one shows.
PICKUP_COLUMNS = {
    Order.Status.RECEIVED: "being_made",
    Order.Status.IN_PROGRESS: "being_made",
    Order.Status.READY: "ready",
}
#: Most background tasks shown on one card (the latest of each kind).
MAX_TASKS = 6
ERROR_LENGTH = 80
#: Words in a task's name and what the kitchen calls such a task.
TASK_WORDS = (("email", "e-mail"), ("mail", "e-mail"), ("webhook", "webhook"))


def isoformat(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


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
    order = open_orders().filter(pk=order_id).first()
    if order is None:
        return None
    return kitchen_card(order, tasks_by_order([order.pk]).get(order.pk, []))


def kitchen_card(order: Order, tasks: list[TaskRecord]) -> dict[str, Any]:
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
        "tasks": [task_data(task) for task in tasks],
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


def tasks_by_order(order_ids: Iterable[int]) -> dict[int, list[TaskRecord]]:
    """The latest task of each name and kind for each order; order tasks carry the keyword argument order_id."""
    ids = list(order_ids)
    if not ids:
        return {}
    found: dict[int, dict[tuple[str, str], TaskRecord]] = defaultdict(dict)
    for task in TaskRecord.objects.filter(kwargs__order_id__in=ids).order_by("enqueued_at"):
        order_id = task.kwargs.get("order_id")
        if isinstance(order_id, int):
            found[order_id][task.task_path, str(task.kwargs.get("kind", ""))] = task
    return {order_id: list(latest.values())[-MAX_TASKS:] for order_id, latest in found.items()}


def task_data(task: TaskRecord) -> dict[str, Any]:
    """A task as the board shows it, e.g. "e-mail: retry 2/5 in 40 s — 503 from endpoint"."""
    return {
        "id": str(task.id),
        "name": task_label(task.task_path, task.kwargs.get("kind")),
        "task_name": task.task_path,
        "queue": task.queue,
        "status": task.status,
        "attempt": task.attempts,
        "max_attempts": task.max_attempts,
        "run_after": isoformat(task.run_after),
        "error": short_error(task),
    }


def task_label(path: str, kind: object = None) -> str:
    """A short name for the kitchen: "orders.tasks.send_order_email" with kind "ready" reads "e-mail (ready)"."""
    name = path.rsplit(".", 1)[-1].lower()
    label = next((label for word, label in TASK_WORDS if word in name), name.replace("_", " "))
    return f"{label} ({kind})" if isinstance(kind, str) and kind else label


def short_error(task: TaskRecord) -> str:
    lines = task.error_message.strip().splitlines()
    text = lines[0] if lines else task.error_class.rsplit(".", 1)[-1]
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 1] + "…"


def pickup_cards() -> dict[int, dict[str, Any]]:
    """Number and column of every open order by order id, and nothing else: the pickup screen is public."""
    orders = Order.objects.open().order_by("number").values_list("pk", "number", "status")
    return {pk: pickup_card(number, status) for pk, number, status in orders}


def pickup_card_of(order_id: int) -> dict[str, Any] | None:
    row = Order.objects.open().filter(pk=order_id).values_list("number", "status").first()
    return pickup_card(*row) if row else None


def pickup_card(number: int, status: str) -> dict[str, Any]:
    return {"number": number, "label": f"#{number:03d}", "column": PICKUP_COLUMNS[status]}
