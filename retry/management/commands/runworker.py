from typing import Any

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import get_channel_layer
from channels.routing import get_default_application
from django.core.management.base import BaseCommand, CommandError, CommandParser

from retry import conf, messages
from retry.worker.process import RetryWorker, configure_process


class Command(BaseCommand):
    """Channels' runworker for task channels, taking queues as Django task workers do."""

    help = (
        "Run a task worker for the given queues (-Q, or channels tasks.<queue>; all queues by default), "
        "with graceful shutdown on SIGTERM."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--layer", default=DEFAULT_CHANNEL_LAYER, help="Channel layer alias, if not the default.")
        parser.add_argument("channels", nargs="*", help="Task channels to listen on (tasks.<queue>).")
        parser.add_argument(
            "-Q",
            "--queue",
            action="append",
            default=[],
            dest="queues",
            metavar="QUEUE",
            help="Queues to run tasks of; repeatable, or comma-separated. Default: every queue of the backend.",
        )
        parser.add_argument(
            "--backend",
            help="The TASKS alias whose queues run by default and whose OPTIONS apply (default: default).",
        )
        parser.add_argument(
            "-c", "--concurrency", metavar="N", help="Tasks run at once (default: the backend's CONCURRENCY)."
        )
        parser.add_argument(
            "--max-tasks", metavar="N", help="Exit (code 0) once N tasks have run: a worker that recycles itself."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        queues = one_backend(
            chosen_queues(options["channels"], options["queues"], options["backend"]), options["backend"]
        )
        concurrency = at_least_one("--concurrency", options["concurrency"])
        max_tasks = at_least_one("--max-tasks", options["max_tasks"])
        layer = get_channel_layer(options["layer"])
        if layer is None:
            raise CommandError("You do not have any CHANNEL_LAYERS configured.")
        configure_process()
        worker = RetryWorker(
            application=get_default_application(),
            channels=[messages.channel_for(queue) for queue in queues],
            channel_layer=layer,
            concurrency=concurrency,
            max_tasks=max_tasks,
        )
        worker.run()  # type: ignore[no-untyped-call]


def chosen_queues(channels: list[str], queue_options: list[str], backend: str | None = None) -> list[str]:
    """The queues the worker runs: those of its channels or of its -Q options (which must agree), else all the
    queues of ``backend`` (the ``default`` alias, or the only retry backend)."""
    known = conf.queues()
    aliases = list(conf.backends())
    if backend is not None and backend not in aliases:
        raise CommandError(f"--backend {backend!r} is not a retry backend; TASKS has {', '.join(aliases)}.")
    backend = backend or conf.default_backend()
    by_channel = {messages.channel_for(queue): queue for queue in known}
    for channel in channels:
        if channel not in by_channel:
            raise CommandError(f"{channel!r} is not a task channel; this project's are {', '.join(by_channel)}.")
    named = [name.strip() for option in queue_options for name in option.split(",") if name.strip()]
    if queue_options and not named:
        raise CommandError(f"--queue {queue_options[0]!r} names no queue.")
    for name in named:
        if name not in known:
            raise CommandError(f"{name!r} is not a task queue; this project's are {', '.join(known)}.")
    from_channels = [by_channel[channel] for channel in channels]
    if channels and named and set(from_channels) != set(named):
        raise CommandError(
            f"The channels name the queues {', '.join(dict.fromkeys(from_channels))} and --queue names "
            f"{', '.join(dict.fromkeys(named))}: give one or the other."
        )
    return list(dict.fromkeys(from_channels or named or conf.queues(backend)))


def one_backend(queues: list[str], backend: str | None = None) -> list[str]:
    """A worker runs the queues of one backend (``backend``, when given), under its OPTIONS."""
    aliases = {queue: conf.backend_of(queue) for queue in queues}
    if backend is not None and set(aliases.values()) != {backend}:
        named = ", ".join(f"{queue} ({alias})" for queue, alias in aliases.items() if alias != backend)
        raise CommandError(f"--backend {backend!r} does not serve {named}.")
    if len(set(aliases.values())) > 1:
        named = ", ".join(f"{queue} ({alias})" for queue, alias in aliases.items())
        raise CommandError(f"The queues belong to several retry backends: {named}; run a worker for each.")
    return queues


def at_least_one(option: str, raw: str | None) -> int | None:
    """``raw`` read as a whole number of at least 1 (None when the option is not given)."""
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise CommandError(f"{option} {raw!r} is not a whole number of at least 1.")
    return value
