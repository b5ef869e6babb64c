import getpass
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from retry import registry
from retry.exceptions import TaskNotRegistered
from retry.monitoring import operations


class Command(BaseCommand):
    help = (
        "Operator actions on tasks: retry dead ones now, cancel ready or running ones, requeue every dead task of "
        "a name, purge."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=sorted(operations.ACTIONS), help="What to do.")
        parser.add_argument(
            "targets", nargs="+", help="Task ids (for requeue_dead: task paths, e.g. myapp.tasks.send_email)."
        )

    def handle(self, *args: Any, action: str, targets: list[str], **options: Any) -> None:
        function, takes = operations.ACTIONS[action]
        check = check_path if takes == "paths" else check_id
        for target in targets:
            check(target)
        try:
            changed = function(targets, f"cli:{getpass.getuser()}")
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{action}: {changed} task(s) changed")


def check_id(target: str) -> None:
    try:
        uuid.UUID(target)
    except ValueError:
        raise CommandError(f"{target!r} is not a task id (a UUID).") from None


def check_path(target: str) -> None:
    try:
        registry.load(target)
    except TaskNotRegistered:
        raise CommandError(f"{target!r} names no task.") from None
