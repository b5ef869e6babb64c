import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from retry.dispatcher import Dispatcher


class Command(BaseCommand):
    help = "Run the task dispatcher: sends due tasks, recovers lost ones, runs schedules, purges old rows."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Make one pass, print what it did, and exit.")

    def handle(self, *args: Any, once: bool = False, **options: Any) -> None:
        dispatcher = Dispatcher()
        if once:
            self.stdout.write(" ".join(f"{key}={value}" for key, value in dispatcher.tick().items()))
            return
        asyncio.run(self._run(dispatcher))

    async def _run(self, dispatcher: Dispatcher) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await dispatcher.run(stop)
