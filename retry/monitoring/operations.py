"""What an operator can do to tasks (and periodic schedules) from the admin, the dashboard and the terminal.

Each action takes its targets and the operator (who) and returns how many it changed. Every one ends in ``_log``,
which logs it and writes its row to the audit log (retry.models.AuditEntry): an action added here with the same
shape and listed in ACTIONS is audited like the others. Batch actions on everything a filter matches are
retry.monitoring.batches; they do one BATCH_ACTIONS step per batch and are audited as one action.
"""

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction

from retry import clock, conf, messages, models, schedules, transitions

logger = logging.getLogger("retry.monitoring.operations")

#: Task ids one transaction takes at most.
BATCH_SIZE = 500
#: Targets of one kind (ids, task paths, queues) an audit row lists at most; it keeps their count whole.
TARGETS_KEPT = 100


def retry_now(task_ids: Iterable[str], operator: str) -> int:
    """Run dead tasks again at once, with a fresh budget of attempts."""
    return _apply("retry_now", task_ids, retry_batch, operator)


def retry_batch(task_ids: list[str]) -> int:
    """retry_now for one batch of ids, not audited (a batch action is audited as a whole)."""
    tasks = transitions.retry_many(task_ids)
    for task in tasks:
        messages.send_after_commit(task)
    return len(tasks)


def cancel(task_ids: Iterable[str], operator: str) -> int:
    """Cancel tasks: a ready one ends at once, a running one is asked to stop and its worker ends it; both end
    FAILED, marked cancelled, and are never retried."""
    return _apply("cancel", task_ids, cancel_batch, operator)


def cancel_batch(task_ids: list[str]) -> int:
    """Cancel the ready tasks of ``task_ids`` and ask the running ones to stop; how many of each."""
    return transitions.cancel_many(task_ids) + transitions.request_cancel_many(task_ids)


def requeue_dead(task_paths: Iterable[str], operator: str) -> int:
    """Retry now every dead task of each of ``task_paths``."""
    paths = sorted(set(task_paths))
    changed = 0
    for path in paths:
        for task in transitions.requeue_failed(path, BATCH_SIZE):
            messages.send_after_commit(task)
            changed += 1
    _log("requeue_dead", operator, changed, task_paths=paths)
    return changed


def purge(task_ids: Iterable[str], operator: str) -> int:
    """Remove finished tasks and their attempts; ready and running ones are left alone."""
    return _apply("purge", task_ids, transitions.remove_finished, operator)


def enable_schedules(names: Iterable[str], operator: str) -> int:
    """Enable periodic schedules: the dispatcher's next pass enqueues them again."""
    return _on_schedules("enable_schedules", names, operator, lambda chosen: schedules.set_enabled(chosen, True))


def disable_schedules(names: Iterable[str], operator: str) -> int:
    """Disable periodic schedules: from the dispatcher's next pass, they enqueue nothing."""
    return _on_schedules("disable_schedules", names, operator, lambda chosen: schedules.set_enabled(chosen, False))


def reset_schedules(names: Iterable[str], operator: str) -> int:
    """Forget operators' edits of the settings' schedules: they follow RETRY_PERIODIC again."""
    return _on_schedules("reset_schedules", names, operator, schedules.reset_to_settings)


def save_schedule(schedule: models.Schedule, operator: str) -> int:
    """Save a schedule an operator added or edited (the admin's form has validated it); the next pass follows it."""
    action = "add_schedule" if schedule.pk is None else "edit_schedule"

    def save(chosen: list[str]) -> int:
        schedule.save()
        return 1

    return _on_schedules(action, [schedule.name], operator, save)


def delete_schedules(names: Iterable[str], operator: str) -> int:
    """Delete schedules: the dispatcher's next pass enqueues them no more."""

    def delete(chosen: list[str]) -> int:
        return models.Schedule.objects.filter(name__in=chosen).delete()[1].get("retry.Schedule", 0)

    return _on_schedules("delete_schedules", names, operator, delete)


def _on_schedules(action: str, names: Iterable[str], operator: str, change: Callable[[list[str]], int]) -> int:
    """Change the schedules and write the audit row in one transaction."""
    chosen = sorted(set(names))
    with transaction.atomic(using=conf.database()):
        changed = change(chosen)
        _log(action, operator, changed, schedules=chosen)
    return changed


def pause(queues: Iterable[str], operator: str) -> int:
    """Pause queues: no worker claims their tasks and the dispatcher sends none; running tasks finish."""
    names = known_queues(queues)
    paused = transitions.pause(names, operator)
    _log("pause", operator, paused, queues=names)
    return paused


def resume(queues: Iterable[str], operator: str) -> int:
    """Resume paused queues: their ready tasks are sent again on the dispatcher's next pass."""
    names = known_queues(queues)
    resumed = transitions.resume(names)
    _log("resume", operator, resumed, queues=names)
    return resumed


def known_queues(queues: Iterable[str]) -> list[str]:
    """``queues``, each one a queue of a retry backend; ValueError naming the first that is not."""
    names, known = sorted({str(queue) for queue in queues}), conf.queues()
    for name in names:
        if name not in known:
            raise ValueError(f"{name!r} is not a queue of a retry backend (known: {', '.join(known)})")
    return names


#: Name → (function, what it takes: "ids", "paths" or "queues").
ACTIONS: dict[str, tuple[Callable[[Iterable[str], str], int], str]] = {
    "retry_now": (retry_now, "ids"),
    "cancel": (cancel, "ids"),
    "requeue_dead": (requeue_dead, "paths"),
    "purge": (purge, "ids"),
    "pause": (pause, "queues"),
    "resume": (resume, "queues"),
}
#: The actions a filter can take, by name: what each does to one batch of task ids (changed count, not audited).
BATCH_ACTIONS: dict[str, Callable[[list[str]], int]] = {
    "retry_now": retry_batch,
    "cancel": cancel_batch,
    "purge": transitions.remove_finished,
}


def _apply(action: str, task_ids: Iterable[str], batch: Callable[[list[str]], int], operator: str) -> int:
    ids = [str(task_id) for task_id in task_ids]
    changed = sum(batch(ids[start : start + BATCH_SIZE]) for start in range(0, len(ids), BATCH_SIZE))
    _log(action, operator, changed, task_ids=ids)
    return changed


def _log(action: str, operator: str, changed: int, **targets: Any) -> None:
    """Log the action and write its audit row; ``targets`` by kind (task_ids=[...], queues=[...])."""
    fields = {"action": action, "operator": operator, "changed": changed, **targets}
    unit = "queue(s)" if "queues" in targets else "task(s)"
    logger.warning("Operator %s ran %s: %d %s changed", operator, action, changed, unit, extra=fields)
    named = {kind: [str(name) for name in names] for kind, names in targets.items()}
    now = clock.now()
    models.AuditEntry.objects.create(
        at=now,
        finished_at=now,
        operator=operator[:150],
        action=action,
        targets=_kept(named),
        total=sum(len(names) for names in named.values()),
        processed=changed,
        changed=changed,
    )


def _kept(targets: dict[str, list[str]]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for kind, names in targets.items():
        shown[kind] = names[:TARGETS_KEPT]
        if len(names) > TARGETS_KEPT:
            shown[f"{kind}_count"] = len(names)
    return shown
