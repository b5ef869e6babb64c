"""Huey on the throwaway Redis (its Redis storage, blocking reads), results off as Celery's, the same task."""

import os

from huey import RedisHuey

from benchmarks import proof

huey = RedisHuey("bench", url=os.environ.get("BENCH_HUEY_URL", "redis://127.0.0.1:6379/14"), results=False)


@huey.task()  # type: ignore[untyped-decorator]  # huey ships no type hints
def touch(number: int) -> None:
    proof.mark(number)
