"""The trivial task on Procrastinate's Django app (procrastinate.contrib.django), found by its worker through
PROCRASTINATE_IMPORT_PATHS."""

from procrastinate.contrib.django import app

from benchmarks import proof


@app.task(name="bench_touch")  # type: ignore[untyped-decorator]  # read as untyped (pyproject.toml)
def touch(number: int) -> None:
    proof.mark(number)
