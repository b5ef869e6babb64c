"""Enqueue as a view does it (an order row and its task in one transaction) and in bulk (1,000 tasks a call)."""

import time
from typing import Any

from django.db import transaction

from benchmarks import figures
from benchmarks.systems import System, clear_orders

#: Tasks per bulk call.
PER_CALL = 1000
#: View transactions of the figure and of its profile: a rate; the slowest peer took 39 s for 5,000.
IN_VIEW = 2000


def in_view(system: System, count: int) -> dict[str, Any]:
    """``count`` transactions one after another, each an order row plus its task; the clock stops when every
    message is in the layer. Ours, Procrastinate and django-tasks-db write the task in the transaction; the
    others send it from ``transaction.on_commit``, as a view must so that a rolled-back order sends nothing."""
    clear_orders()
    started = time.perf_counter()
    for number in range(count):
        system.enqueue_in_view(number)
    system.flush()
    seconds = time.perf_counter() - started
    clear_orders()
    result = {"tasks": count, "seconds": round(seconds, 3), "per_second": figures.rate(count, seconds)}
    if not system.transactional:
        return {**result, "task": "on commit"}
    kept = rolled_back_keeps(system, count)
    return {**result, "task": "in the transaction", "rolled_back_order_keeps_its_task": kept}


def rolled_back_keeps(system: System, number: int) -> bool:
    """Whether an order rolled back with its task leaves the task stored: the proof that it shares the transaction."""
    before = system.stored()
    try:
        with transaction.atomic():
            system.enqueue_in_view(number)
            raise RolledBack
    except RolledBack:
        pass
    return system.stored() != before


class RolledBack(Exception):
    """Raised to roll the transaction of ``rolled_back_keeps`` back."""


def bulk(system: System, count: int, per_call: int = PER_CALL) -> dict[str, Any] | None:
    """``count`` tasks in calls of ``per_call``; None for a system without a bulk call."""
    if not system.bulk_call:
        return None
    started = time.perf_counter()
    for start in range(0, count, per_call):
        system.enqueue_many(range(start, min(count, start + per_call)))
    system.flush()
    seconds = time.perf_counter() - started
    return {
        "tasks": count,
        "per_call": per_call,
        "call": system.bulk_call,
        "seconds": round(seconds, 3),
        "per_second": figures.rate(count, seconds),
    }
