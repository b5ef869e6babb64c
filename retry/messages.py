"""What travels on the task channels: one channel per queue, and messages that carry only a task id."""

from retry import conf


def channel_for(queue: str) -> str:
    return conf.get().CHANNEL_PREFIX + queue


def run_message(task_id: str) -> dict[str, str]:
    return {"type": "task.run", "id": task_id}
