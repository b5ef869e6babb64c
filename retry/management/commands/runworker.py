from channels.management.commands import runworker

from retry.worker import RetryWorker


class Command(runworker.Command):
    help = "Run a task worker on the given channels (tasks.<queue>), with graceful shutdown on SIGTERM."
    worker_class = RetryWorker
