"""Everything in one process: the web server's event loop also runs the task workers and the dispatcher."""

import asyncio
from typing import Any

from retry import conf, messages
from retry.dispatcher import Dispatcher
from retry.outbox import outbox
from retry.worker.process import RetryWorker


class Embedded:
    """Task workers for every queue and a dispatcher, run as tasks of the current event loop."""

    def __init__(self, application: Any, channel_layer: Any) -> None:
        channels = [messages.channel_for(queue) for queue in conf.queues()]
        self.worker = RetryWorker(application, channels, channel_layer, handle_signals=False)
        self.dispatcher = Dispatcher()
        self.stop_dispatcher = asyncio.Event()
        self._tasks: list[asyncio.Future[Any]] = []

    def start(self) -> None:
        outbox.use_loop(asyncio.get_running_loop())
        self._tasks = [
            asyncio.ensure_future(self.worker.arun()),
            asyncio.ensure_future(self.dispatcher.run(self.stop_dispatcher)),
        ]

    async def stop(self) -> None:
        self.stop_dispatcher.set()
        self.worker.request_stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
