"""Channels' own `runworker` on the raw channel: our app's command of that name is the retry worker."""

import os

import django
from django.core.management import call_command

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")


def main() -> None:
    django.setup()
    from channels.management.commands import runworker

    from benchmarks.consumers import RAW_CHANNEL

    call_command(runworker.Command(), RAW_CHANNEL)


if __name__ == "__main__":
    main()
