"""``manage.py tasks``: list and show tasks, and retry, cancel or purge them by id or all that a filter matches.

The filter options are the search page's (retry.monitoring.search). An action on a filter asks first, stating the
count, unless --yes; without a terminal to ask on it refuses, so nothing ever waits for an answer in CI. It runs
in this process, BATCH_SIZE tasks a transaction, with its progress on stderr, and is audited like the page's.
"""

import getpass
import json
import sys
import uuid
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError

from retry import models, registry
from retry.exceptions import TaskNotRegistered
from retry.management import terminal
from retry.monitoring import batches, operations, search, stats

#: Subcommand → the operations.ACTIONS entry it runs; its arguments are checked by the kind ACTIONS gives it.
ACTS = {
    "retry": "retry_now",
    "retry_now": "retry_now",
    "cancel": "cancel",
    "purge": "purge",
    "requeue_dead": "requeue_dead",
    "pause": "pause",
    "resume": "resume",
}
FILTERS = ("queue", "status", "task", "arg", "error", "since", "until", "time")
COLUMNS = ("id", "enqueued", "task", "queue", "status", "attempts", "error")


class OneLineParser(CommandParser):
    """Bad arguments get one line and exit code 2, not argparse's usage block."""

    def error(self, message: str) -> Any:
        if self.called_from_command_line:
            self.exit(2, f"{self.prog}: error: {message}\n")
        raise CommandError(f"Error: {message}")


class Command(BaseCommand):
    help = "List and show tasks; retry, cancel (ready or running) or purge them by id, or every task a filter matches."
    #: call_command(..., stdin=...) stands in for the terminal that confirms an action.
    stealth_options = ("stdin",)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.error = OneLineParser.error.__get__(parser)  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="command", required=True, metavar="command", parser_class=OneLineParser)
        listing = commands.add_parser("list", help="Tasks a filter matches, newest first.")
        add_filters(listing)
        listing.add_argument("--limit", type=int, default=50, help="Tasks shown at most (default 50).")
        listing.add_argument("--json", action="store_true", help="JSON instead of a table.")
        show = commands.add_parser("show", help="One task, with its attempts.")
        show.add_argument("id", help="The task's id.")
        show.add_argument("--json", action="store_true", help="JSON instead of text.")
        for name, action in ACTS.items():
            kind = operations.ACTIONS[action][1]
            act = commands.add_parser(name, help=operations.ACTIONS[action][0].__doc__)
            act.add_argument(
                "targets",
                nargs="*" if action in batches.ELIGIBLE else "+",
                help="Queues." if kind == "queues" else f"Task {kind}.",
            )
            act.add_argument("--json", action="store_true", help="JSON instead of text.")
            if action in batches.ELIGIBLE:
                add_filters(act)
                act.add_argument("--yes", action="store_true", help="Act on a filter without asking.")

    def handle(self, *args: Any, command: str, **options: Any) -> None:
        try:
            self.run(command, options)
        except DatabaseError as error:
            raise CommandError(f"The database failed: {one_line(error)}") from None

    def run(self, command: str, options: dict[str, Any]) -> None:
        if command == "list":
            self.list_tasks(search_filter(options), options["limit"], options["json"])
        elif command == "show":
            self.show_task(task_id(options["id"]), options["json"])
        elif options["targets"]:
            if any(options.get(name) for name in FILTERS):
                raise CommandError("Give task ids or filter options, not both.")
            self.act_on(ACTS[command], options["targets"], options["json"])
        else:
            self.act_on_filter(ACTS[command], search_filter(options), options)

    def list_tasks(self, task_filter: search.TaskFilter, limit: int, as_json: bool) -> None:
        if limit < 1:
            raise CommandError(f"--limit {limit} is not a whole number of at least 1.")
        found = task_filter.tasks()
        count, tasks = found.count(), list(found.order_by("-enqueued_at", "-pk")[:limit])
        if as_json:
            self.emit({"count": count, "tasks": [described(task) for task in tasks]})
            return
        rows = [[str(t.pk), f"{t.enqueued_at:%Y-%m-%d %H:%M:%S}", t.name, t.queue, t.status, t.attempts] for t in tasks]
        rows = [[*row, stats.short_error(task, limit=60)] for row, task in zip(rows, tasks, strict=True)]
        self.stdout.write(terminal.table(COLUMNS, rows) if rows else "No task matches.")
        self.stdout.write(f"{len(tasks):,} of {count:,} task(s) matching {task_filter.describe()}.")

    def show_task(self, pk: str, as_json: bool) -> None:
        task = models.TaskRecord.objects.filter(pk=pk).first()
        if task is None:
            raise CommandError(f"No task {pk}.")
        attempts = [
            [
                a.number,
                a.worker_id,
                f"{a.started_at:%Y-%m-%d %H:%M:%S}",
                round(a.duration, 3),
                a.outcome,
                a.error_message,
            ]
            for a in task.attempt_set.all()
        ]
        if as_json:
            names = ("number", "worker", "started", "seconds", "outcome", "error")
            self.emit({**described(task), "attempts": [dict(zip(names, row, strict=True)) for row in attempts]})
            return
        for name, value in described(task).items():
            self.stdout.write(f"{name:>13}: {value if value not in (None, '') else '-'}")
        if attempts:
            self.stdout.write("")
            self.stdout.write(terminal.table(("attempt", "worker", "started", "seconds", "outcome", "error"), attempts))

    def act_on(self, action: str, targets: list[str], as_json: bool) -> None:
        function, kind = operations.ACTIONS[action]
        for target in targets:
            CHECKS[kind](target)
        try:
            changed = function(targets, operator())
        except ValueError as error:
            raise CommandError(str(error)) from error
        unit = "queue(s)" if kind == "queues" else "task(s)"
        self.emit({"action": action, "changed": changed}) if as_json else self.stdout.write(
            f"{action}: {changed} {unit} changed"
        )

    def act_on_filter(self, action: str, task_filter: search.TaskFilter, options: dict[str, Any]) -> None:
        count = batches.matches(action, task_filter).count()
        what = f"{count:,} task(s) that {action} would change, matching {task_filter.describe()}"
        if not options["yes"] and count:
            self.confirm(what, options.get("stdin") or sys.stdin)
        entry = batches.start(action, task_filter, operator(), enqueue=False)
        progress = terminal.Progress(self.stderr, action, entry.total)
        try:
            entry = batches.run(entry.pk, lambda now: progress.update(now.processed, now.changed))
        except (KeyboardInterrupt, DatabaseError) as error:
            raise CommandError(f"{action} interrupted ({interrupted(entry.pk, error)}).") from None
        finally:
            progress.close()
        if options["json"]:
            self.emit({"action": action, "matched": entry.total, "changed": entry.changed, "audit": entry.pk})
        else:
            self.stdout.write(f"{action}: {entry.changed} of {entry.total} task(s) changed (audit entry {entry.pk})")

    def confirm(self, what: str, stdin: Any) -> None:
        if not stdin.isatty():
            raise CommandError(f"Not run: {what}; there is no terminal to confirm on, so pass --yes.")
        self.stderr.write(f"{what}. Go ahead? [y/N] ", ending="")
        self.stderr.flush()
        if stdin.readline().strip().lower() not in ("y", "yes"):
            raise CommandError("Not confirmed: nothing was done.")

    def emit(self, content: Any) -> None:
        self.stdout.write(json.dumps(content, cls=DjangoJSONEncoder, indent=2))


def add_filters(parser: CommandParser) -> None:
    """The search page's filter, as options; lists may repeat or hold commas."""
    parser.add_argument("--queue", action="append", default=[], help="A queue (repeatable, or a,b).")
    parser.add_argument("--status", action="append", default=[], help="READY, RUNNING, FAILED or SUCCESSFUL.")
    parser.add_argument("--task", default="", help="A task's name or dotted path.")
    parser.add_argument("--arg", action="append", default=[], help="key=value in the arguments: kwargs.order_id=7.")
    parser.add_argument("--error", default="", help="Text in the error, or in an attempt's error.")
    parser.add_argument("--since", default="", help="From this time on: 2026-12-01T08:00, 2h (ago), 7d.")
    parser.add_argument("--until", default="", help="Before this time.")
    parser.add_argument("--time", default="", help="What --since and --until judge: enqueued (default), finished.")


def search_filter(options: dict[str, Any]) -> search.TaskFilter:
    data = {name: options.get(name) or "" for name in FILTERS}
    for name in ("queue", "status"):
        data[name] = [part.strip() for value in options.get(name) or [] for part in value.split(",") if part.strip()]
    data["arg"] = options.get("arg") or []
    try:
        return search.read(data)
    except ValueError as error:
        raise CommandError(f"--{error}" if str(error).split(":")[0] in FILTERS else str(error)) from None


def described(task: models.TaskRecord) -> dict[str, Any]:
    names = ("id", "task_path", "queue", "status", "attempts", "max_attempts", "args", "kwargs", "enqueued_at")
    fields = {name: getattr(task, name) for name in names}
    return {**fields, "finished_at": task.finished_at, "error": stats.short_error(task, limit=500)}


def interrupted(entry_id: int, error: BaseException) -> str:
    """Mark the audit row interrupted; what to tell the operator."""
    cause = "by the keyboard" if isinstance(error, KeyboardInterrupt) else f"the database failed: {one_line(error)}"
    try:
        batches.interrupt(entry_id)
    except DatabaseError:
        return f"{cause}; audit entry {entry_id} could not be marked"
    return f"{cause}; audit entry {entry_id} is marked interrupted, the batches done stay done"


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def operator() -> str:
    return f"cli:{getpass.getuser()}"


def task_id(target: str) -> str:
    try:
        return str(uuid.UUID(target))
    except ValueError:
        raise CommandError(f"{target!r} is not a task id (a UUID).") from None


def check_path(target: str) -> None:
    try:
        registry.load(target)
    except TaskNotRegistered:
        raise CommandError(f"{target!r} names no task.") from None


#: How a target of each kind operations.ACTIONS names is checked.
CHECKS: dict[str, Callable[[str], object]] = {
    "ids": task_id,
    "paths": check_path,
    "queues": str,  # checked by the operation, which names the unknown queue (operations.known_queues)
}
