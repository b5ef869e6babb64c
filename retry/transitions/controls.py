"""An operator's controls over queues: pause one, resume it.

A pause is a row: workers read it within retry.controls.TTL and claim nothing more of the queue, and the
dispatcher sends none of its tasks. Resuming removes the row and marks the queue's ready tasks unsent, so the
dispatcher's next pass sends them all again instead of waiting for their messages to expire.
"""

from collections.abc import Iterable

from django.db import transaction

from retry import conf, controls
from retry.models import QueuePause, TaskRecord


def pause(queues: Iterable[str], operator: str) -> int:
    """Pause ``queues``; how many were not paused before."""
    paused = 0
    with transaction.atomic(using=conf.database()):
        for queue in sorted(set(queues)):
            paused += QueuePause.objects.get_or_create(queue=queue, defaults={"paused_by": operator})[1]
    controls.forget()
    return paused


def resume(queues: Iterable[str]) -> int:
    """Resume ``queues``; how many were paused. Their ready tasks get their messages again on the next pass."""
    names = sorted(set(queues))
    with transaction.atomic(using=conf.database()):
        resumed = QueuePause.objects.filter(queue__in=names).delete()[0]
        TaskRecord.objects.ready().filter(queue__in=names, notified_at__isnull=False).update(notified_at=None)
    controls.forget()
    return resumed
