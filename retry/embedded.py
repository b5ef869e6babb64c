"""Everything in one process: the web server's event loop also runs the task workers and the dispatcher."""

import asyncio
from typing import Any

from retry import conf, messages
from retry.dispatcher import Dispatcher
from retry.outbox import outbox
from retry.worker.process import RetryWorker


class Embedded:
    """A task worker for each backend's queues and a dispatcher, run as tasks of the current event loop."""

    def __init__(self, application: Any, channel_layer: Any) -> None:
        self.workers = [
            RetryWorker(
                application, [messages.channel_for(queue) for queue in queues], channel_layer, handle_signals=False
            )
            for queues in (conf.queues(alias) for alias in conf.backends())
            if queues
        ]
        self.dispatcher = Dispatcher()
        self.stop_dispatcher = asyncio.Event()
        self._tasks: list[asyncio.Future[Any]] = []

    def start(self) -> None:
        outbox.use_loop(asyncio.get_running_loop())
        self._tasks = [asyncio.ensure_future(worker.arun()) for worker in self.workers]
        self._tasks.append(asyncio.ensure_future(self.dispatcher.run(self.stop_dispatcher)))

    async def stop(self) -> None:
        self.stop_dispatcher.set()
        for worker in self.workers:
            worker.request_stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
