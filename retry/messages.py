"""What travels on the task channels: one channel per queue, and messages that carry only a task id."""

from django.db import transaction

from retry import conf, transitions
from retry.models import TaskRecord
from retry.outbox import outbox


def channel_for(queue: str) -> str:
    return conf.get().CHANNEL_PREFIX + queue


def run_message(task_id: str) -> dict[str, str]:
    return {"type": "task.run", "id": task_id}


def send_after_commit(task: TaskRecord, using: str | None = None) -> None:
    """Send the task's message once the transaction that made it due commits; if it does not get through, the
    dispatcher sends it again."""
    task_id, channel = str(task.pk), channel_for(task.queue)
    transaction.on_commit(
        lambda: outbox.send(channel, run_message(task_id), lambda _: transitions.forget_sent([task_id])),
        using=using or conf.database(),
    )
