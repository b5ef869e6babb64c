from typing import Any

from channels.management.commands import runworker
from django.core.management.base import CommandError

from retry import conf, messages
from retry.worker.process import RetryWorker, configure_process


class Command(runworker.Command):
    help = "Run a task worker on the given channels (tasks.<queue>), with graceful shutdown on SIGTERM."
    worker_class = RetryWorker

    def handle(self, *args: Any, **options: Any) -> None:
        known = [messages.channel_for(queue) for queue in conf.queues()]
        for channel in options["channels"]:
            if channel not in known:
                raise CommandError(f"{channel!r} is not a task channel; this project's are {', '.join(known)}.")
        configure_process()
        super().handle(*args, **options)
