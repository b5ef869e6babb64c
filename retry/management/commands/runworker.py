from typing import Any

from channels.management.commands import runworker

from retry.worker import RetryWorker, configure_process


class Command(runworker.Command):
    help = "Run a task worker on the given channels (tasks.<queue>), with graceful shutdown on SIGTERM."
    worker_class = RetryWorker

    def handle(self, *args: Any, **options: Any) -> None:
        configure_process()
        super().handle(*args, **options)
