"""The trivial tasks measured on our retry layer."""

from django.tasks import task

from benchmarks import proof


class Planned(Exception):
    """Raised by a task that fails on purpose."""


@task()
def touch(number: int) -> None:
    proof.mark(number)


@task()
def fails_once(number: int) -> None:
    if proof.count_run(number) < 2:
        raise Planned(f"first attempt of {number} fails on purpose")
    proof.mark(number)
