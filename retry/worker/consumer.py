"""The generic Channels consumer that task messages are routed to (one channel per queue)."""

import logging
import uuid
from typing import Any

from channels.consumer import AsyncConsumer

from retry.worker import runner

logger = logging.getLogger("retry.worker.consumer")


class TaskWorkerConsumer(AsyncConsumer):
    """Starts the task a ``task.run`` message names; never raises, so no message queued behind it is lost.

    Only the documented message type is dispatched: a type that happens to name another attribute of the
    consumer (``send``, ``dispatch``) is skipped like any unknown one, instead of being called.
    """

    async def dispatch(self, message: Any) -> None:
        if not isinstance(message, dict) or message.get("type") != "task.run":
            logger.warning("Skipped a message of unknown type", extra={"message_type": _type_of(message)})
            return
        await self.task_run(message)

    async def task_run(self, message: dict[str, Any]) -> None:
        task_id = message.get("id")
        try:
            task_id = str(uuid.UUID(str(task_id)))
        except ValueError:
            logger.warning("Skipped a task.run message without a valid id", extra={"task_id": repr(task_id)[:100]})
            return
        await runner.serving(str(self.scope.get("channel", ""))).start(task_id)


def _type_of(message: Any) -> str:
    return repr(message.get("type") if isinstance(message, dict) else type(message).__name__)[:100]
