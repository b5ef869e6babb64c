"""Procrastinate through its Django integration: jobs in the benchmark's PostgreSQL database, deferred on
Django's own connection (so in the caller's transaction), run by `manage.py procrastinate worker`."""

from collections.abc import Sequence
from typing import Any

from benchmarks import processes
from benchmarks.systems import System, scalar, truncate


class Procrastinate(System):
    name = "Procrastinate"
    store = "PostgreSQL"
    concurrency = "manage.py procrastinate worker --concurrency 8"
    bulk_call = "touch.batch_defer(*kwargs) (one INSERT)"
    transactional = True

    def __init__(self) -> None:
        from benchmarks.peers import procrastinate_tasks

        self.task = procrastinate_tasks.touch

    def reset(self) -> None:
        super().reset()
        truncate("procrastinate_jobs")  # and, by CASCADE, their events

    def enqueue(self, number: int) -> None:
        self.task.defer(number=number)

    async def aenqueue(self, number: int) -> None:
        await self.task.defer_async(number=number)

    def enqueue_many(self, numbers: Sequence[int]) -> None:
        self.task.batch_defer(*({"number": number} for number in numbers))

    def stored(self) -> int:
        return int(scalar("SELECT count(*) FROM procrastinate_jobs"))

    def start_workers(self, count: int) -> list[Any]:
        return [processes.procrastinate_worker(index) for index in range(count)]

    def finished(self) -> int:
        return int(scalar("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"))

    def window(self) -> tuple[float, float]:
        first = scalar("SELECT min(at) FROM procrastinate_events WHERE type = 'started'")
        last = scalar("SELECT max(at) FROM procrastinate_events WHERE type = 'succeeded'")
        return first.timestamp(), last.timestamp()

    def check(self, expected: int) -> dict[str, int]:
        counts = super().check(expected)
        counts["rows_not_successful"] = int(
            scalar("SELECT count(*) FROM procrastinate_jobs WHERE status <> 'succeeded'")
        )
        counts["rows_run_more_than_once"] = int(
            scalar(
                "SELECT count(*) FROM (SELECT job_id FROM procrastinate_events WHERE type = 'started'"
                " GROUP BY job_id HAVING count(*) > 1) AS twice"
            )
        )
        return counts
