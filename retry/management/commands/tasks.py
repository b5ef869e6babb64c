import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from retry import operations


class Command(BaseCommand):
    help = (
        "Operator actions on tasks: retry dead ones now, cancel ready ones, requeue every dead task of a name, purge."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=sorted(operations.ACTIONS), help="What to do.")
        parser.add_argument("targets", nargs="+", help="Task ids (for requeue_dead: task paths, e.g. orders.tasks.x).")

    def handle(self, *args: Any, action: str, targets: list[str], **options: Any) -> None:
        function, _ = operations.ACTIONS[action]
        try:
            changed = function(targets, f"cli:{getpass.getuser()}")
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{action}: {changed} task(s) changed")
