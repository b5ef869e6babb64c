"""What an operator can do to tasks (and periodic schedules) from the admin and the dashboard; each call is logged
with who did it."""

import logging
from collections.abc import Callable, Iterable
from typing import Any

from retry import messages, schedules, transitions

logger = logging.getLogger("retry.monitoring.operations")


def retry_now(task_ids: Iterable[str], operator: str) -> int:
    """Run dead tasks again at once, with a fresh budget of attempts."""
    return _apply("retry_now", task_ids, _retry_and_send, operator)


def _retry_and_send(task_id: str) -> bool:
    task = transitions.retry_now(task_id)
    if task is not None:
        messages.send_after_commit(task)
    return task is not None


def cancel(task_ids: Iterable[str], operator: str) -> int:
    """Cancel tasks: a ready one ends at once, a running one is asked to stop and its worker ends it; both end
    FAILED, marked cancelled, and are never retried."""
    return _apply("cancel", task_ids, _cancel_one, operator)


def _cancel_one(task_id: str) -> bool:
    return transitions.cancel(task_id) or transitions.request_cancel(task_id)


def requeue_dead(task_paths: Iterable[str], operator: str) -> int:
    """Retry now every dead task of each of ``task_paths``."""
    paths = sorted(set(task_paths))
    changed = 0
    for path in paths:
        for task in transitions.requeue_failed(path):
            messages.send_after_commit(task)
            changed += 1
    _log("requeue_dead", operator, changed, task_paths=paths)
    return changed


def purge(task_ids: Iterable[str], operator: str) -> int:
    """Remove finished tasks and their attempts; ready and running ones are left alone."""
    ids = [str(task_id) for task_id in task_ids]
    removed = transitions.remove_finished(ids)
    _log("purge", operator, removed, task_ids=ids)
    return removed


def enable_schedules(names: Iterable[str], operator: str) -> int:
    """Enable periodic schedules: the dispatcher's next pass enqueues them again."""
    return _on_schedules("enable_schedules", names, operator, lambda chosen: schedules.set_enabled(chosen, True))


def disable_schedules(names: Iterable[str], operator: str) -> int:
    """Disable periodic schedules: from the dispatcher's next pass, they enqueue nothing."""
    return _on_schedules("disable_schedules", names, operator, lambda chosen: schedules.set_enabled(chosen, False))


def reset_schedules(names: Iterable[str], operator: str) -> int:
    """Forget operators' edits of the settings' schedules: they follow RETRY_PERIODIC again."""
    return _on_schedules("reset_schedules", names, operator, schedules.reset_to_settings)


def _on_schedules(action: str, names: Iterable[str], operator: str, change: Callable[[list[str]], int]) -> int:
    chosen = sorted(set(names))
    changed = change(chosen)
    _log(action, operator, changed, schedules=chosen)
    return changed


#: Name → (function, what it takes: "ids" or "paths").
ACTIONS: dict[str, tuple[Callable[[Iterable[str], str], int], str]] = {
    "retry_now": (retry_now, "ids"),
    "cancel": (cancel, "ids"),
    "requeue_dead": (requeue_dead, "paths"),
    "purge": (purge, "ids"),
}


def _apply(action: str, task_ids: Iterable[str], transition: Callable[[str], bool], operator: str) -> int:
    ids = [str(task_id) for task_id in task_ids]
    changed = sum(transition(task_id) for task_id in ids)
    _log(action, operator, changed, task_ids=ids)
    return changed


def _log(action: str, operator: str, changed: int, **what: Any) -> None:
    fields = {"action": action, "operator": operator, "changed": changed, **what}
    logger.warning("Operator %s ran %s: %d task(s) changed", operator, action, changed, extra=fields)
