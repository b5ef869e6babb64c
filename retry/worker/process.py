"""The task worker process: Channels' Worker, hardened for tasks.

It takes a message only when a task slot is free, survives channel-layer outages and untyped
messages, renews its claims, and on SIGTERM or SIGINT stops taking work, lets running tasks finish
within the grace period and hands back the rest without charging an attempt. Given a maximum number
of tasks, it claims no more than that and stops the same way once they have ended.
"""

import asyncio
import logging
import signal
from typing import Any

from channels.worker import Worker
from django.db.backends.signals import connection_created

from retry import conf, transitions
from retry.outbox import EXIT_FLUSH_TIMEOUT, outbox
from retry.worker import runner

logger = logging.getLogger("retry.worker.process")
#: Seconds to wait after the channel layer fails before asking it again (doubling up to the last).
LAYER_BACKOFF = (0.5, 1.0, 2.0, 5.0)
#: Seconds between two looks at whether the tasks of a worker's budget (``max_tasks``) have all ended.
SPENT_POLL = 0.05


def relax_commits(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Let this process's PostgreSQL commits return before the disk flush (see RETRY_WORKER_SYNCHRONOUS_COMMIT)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")


def configure_process() -> None:
    """Settings that apply to a whole worker process (runworker), not to an embedded one."""
    if not conf.get().WORKER_SYNCHRONOUS_COMMIT:
        connection_created.connect(relax_commits, dispatch_uid="retry.worker.process.relax_commits")


class RetryWorker(Worker):
    """Runs the tasks of ``channels``, ``concurrency`` at a time (its backend's CONCURRENCY by default), and with
    ``max_tasks`` exits once it has run that many."""

    def __init__(
        self,
        application: Any,
        channels: list[str],
        channel_layer: Any,
        *,
        handle_signals: bool = True,
        concurrency: int | None = None,
        max_tasks: int | None = None,
    ):
        super().__init__(application, channels, channel_layer)
        prefix = conf.get().CHANNEL_PREFIX
        queues = [name.removeprefix(prefix) for name in channels]
        self.runner = runner.Runner(queues=queues, concurrency=concurrency, max_tasks=max_tasks)
        self.handle_signals = handle_signals
        self.stop_requested = asyncio.Event()

    def request_stop(self) -> None:
        if not self.stop_requested.is_set():
            logger.info("Stopping: no new tasks; running ones get the grace period", extra=self._fields())
            self.stop_requested.set()

    async def arun(self) -> None:
        checker = asyncio.ensure_future(self.application_checker())  # type: ignore[no-untyped-call]
        try:
            await self.handle()
        finally:
            checker.cancel()

    async def handle(self) -> None:
        runner.install(self.runner)
        loop = asyncio.get_running_loop()
        outbox.use_loop(loop)
        if self.handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        logger.info("Worker started", extra=self._fields())
        listeners = [asyncio.ensure_future(self.listener(channel)) for channel in self.channels]
        keep_alive = asyncio.ensure_future(self.runner.keep_alive())
        looking = asyncio.ensure_future(self.runner.look_for_work())
        budget = asyncio.ensure_future(self._stop_when_spent())
        cancels = asyncio.ensure_future(self.runner.watch_cancels())
        await self.stop_requested.wait()
        for task in [*listeners, keep_alive, looking, budget, cancels]:
            task.cancel()
        self.runner.stopping = True
        await self._hand_back_buffered()
        await self.runner.shutdown()
        for scope_id in list(self.application_instances):
            self.delete_application_instance(scope_id)  # type: ignore[no-untyped-call]
        # Awaited, not waited for: the outbox sends on this very loop.
        if not await outbox.aflush(timeout=EXIT_FLUSH_TIMEOUT):
            logger.warning("Stopped with events or task messages unsent", extra=self._fields())
        logger.info("Worker stopped", extra=self._fields())

    async def _stop_when_spent(self) -> None:
        """With ``max_tasks``: stop, as on SIGTERM, once the last task of the budget has ended."""
        if self.runner.claims_left is None:
            return
        while not self.runner.spent():
            await asyncio.sleep(SPENT_POLL)
        logger.info("Ran its maximum number of tasks", extra=self._fields())
        self.request_stop()

    async def listener(self, channel: str) -> None:
        failures = 0
        while True:
            await self.runner.wait_for_capacity()
            try:
                message = await self.channel_layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                delay = LAYER_BACKOFF[min(failures, len(LAYER_BACKOFF) - 1)]
                failures += 1
                logger.warning(
                    "Channel layer unavailable; trying again", extra={"channel": channel, "error": repr(error)}
                )
                await asyncio.sleep(delay)
                continue
            failures = 0
            if not isinstance(message, dict) or not message.get("type"):
                logger.warning("Skipped a message with no type", extra={"channel": channel})
                continue
            scope = {"type": "channel", "channel": channel}
            instance = self.get_or_create_application_instance(channel, scope)  # type: ignore[no-untyped-call]
            await instance.put(message)

    async def _hand_back_buffered(self) -> None:
        """Messages pulled but never started: let the dispatcher send them again at once."""
        ids = []
        for details in self.application_instances.values():
            queue = details["input_queue"]
            while not queue.empty():
                ids.append(str(queue.get_nowait().get("id")))
        if ids:
            await self.runner.in_thread(transitions.forget_sent, ids)

    def _fields(self) -> dict[str, Any]:
        return {"worker_id": self.runner.id, "channels": self.channels, "concurrency": self.runner.concurrency}
