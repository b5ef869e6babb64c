"""What the rest of the application knows of an order's background tasks: the one place that reads task rows.

Order tasks carry the keyword argument ``order_id`` (webhook deliveries ``delivery_id``); boards and the
webhook clean-up ask here instead of querying the retry layer's tables themselves.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import BigIntegerField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.tasks.base import TaskResultStatus as Status

from retry.models import TaskRecord

#: Most background tasks shown on one card (the latest of each kind).
MAX_TASKS = 6
ERROR_LENGTH = 80
#: Words in a task's name and what the kitchen calls such a task.
TASK_WORDS = (("email", "e-mail"), ("mail", "e-mail"), ("webhook", "webhook"))


def tasks_by_order(order_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """The latest task of each name and kind for each order; order tasks carry the keyword argument order_id."""
    ids = list(order_ids)
    if not ids:
        return {}
    found: dict[int, dict[tuple[str, str], TaskRecord]] = defaultdict(dict)
    for task in TaskRecord.objects.filter(kwargs__order_id__in=ids).order_by("enqueued_at"):
        order_id = task.kwargs.get("order_id")
        if isinstance(order_id, int):
            found[order_id][task.task_path, str(task.kwargs.get("kind", ""))] = task
    return {
        order_id: [task_data(task) for task in list(tasks.values())[-MAX_TASKS:]] for order_id, tasks in found.items()
    }


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


def order_of_task(task_id: Any) -> int | None:
    """The order a task works for (its keyword argument order_id), if any."""
    try:
        kwargs = TaskRecord.objects.filter(pk=uuid.UUID(str(task_id))).values_list("kwargs", flat=True).first()
    except (ValueError, ValidationError):
        return None
    order_id = kwargs.get("order_id") if isinstance(kwargs, dict) else None
    return order_id if isinstance(order_id, int) else None


def delivery_ids_with_unfinished_tasks(task_path: str) -> list[int]:
    """The deliveries (keyword argument delivery_id) that a READY or RUNNING task of ``task_path`` will still try."""
    unfinished = TaskRecord.objects.filter(task_path=task_path, status__in=[Status.READY, Status.RUNNING])
    # A list, not a subquery: the task rows may live in a database of their own (the DATABASE option).
    return list(
        unfinished.annotate(delivery=Cast(KT("kwargs__delivery_id"), BigIntegerField()))
        .filter(delivery__isnull=False)  # NOT IN a list holding NULL matches nothing
        .values_list("delivery", flat=True)
    )


def isoformat(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
