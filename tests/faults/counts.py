"""Jepsen's four counts over the tasks a fault test enqueued: lost, duplicated, unexpected, recovered."""

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict, cast

from django.db.models import Count, Q

from retry.models import Outcome, TaskRecord
from tests.effects.models import Effect, Run

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


@dataclass(frozen=True)
class Counts:
    #: Enqueued, but not SUCCESSFUL with its effect in place.
    lost: int
    #: Ran more often than it was claimed, succeeded more than once, or left more than one effect.
    duplicated: int
    #: Runs or effects of keys no test enqueued.
    unexpected: int
    #: SUCCESSFUL after an attempt that was lost or handed back.
    recovered: int


class Tallies(TypedDict):
    """The attempts of a task, counted in the query."""

    claims: int
    successes: int
    setbacks: int


def count(task_ids: dict[str, str]) -> Counts:
    """The counts for the tasks ``task_ids`` (key → task id) whose function records a Run and an Effect by key."""
    tasks = TaskRecord.objects.filter(pk__in=task_ids.values()).annotate(
        claims=Count("attempt_set"),
        successes=Count("attempt_set", filter=Q(attempt_set__outcome=Outcome.SUCCEEDED)),
        setbacks=Count("attempt_set", filter=Q(attempt_set__outcome__in=[Outcome.LOST, Outcome.RELEASED])),
    )
    by_id = {str(task.pk): cast("WithAnnotations[TaskRecord, Tallies]", task) for task in tasks}
    runs = Counter(Run.objects.values_list("key", flat=True))
    effects = Counter(Effect.objects.values_list("key", flat=True))
    lost = duplicated = recovered = 0
    for key, task_id in task_ids.items():
        task = by_id.get(task_id)
        if task is None or task.status != "SUCCESSFUL" or not effects[key]:
            lost += 1
            continue
        if runs[key] > task.claims or task.successes > 1 or effects[key] > 1:
            duplicated += 1
        if task.setbacks:
            recovered += 1
    unexpected = len((set(runs) | set(effects)) - set(task_ids))
    return Counts(lost=lost, duplicated=duplicated, unexpected=unexpected, recovered=recovered)
