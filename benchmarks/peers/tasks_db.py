"""django-tasks-db: Django's Tasks API on a table of the benchmark's PostgreSQL database, written with the ORM
on Django's own connection (so in the caller's transaction); its worker polls that table."""

from typing import Any

from django.db.models import Max, Min
from django.tasks.base import TaskResultStatus as Status

from benchmarks import processes
from benchmarks.systems import System, scalar, truncate


class TasksDB(System):
    name = "django-tasks-db"
    store = "PostgreSQL"
    concurrency = "none in db_worker (one task at a time): 8 threads of its Worker loop in one process"
    transactional = True

    def __init__(self) -> None:
        from benchmarks.peers import tasks_db_app

        self.task = tasks_db_app.touch

    @property
    def rows(self) -> Any:
        from django_tasks_db.models import DBTaskResult

        return DBTaskResult.objects

    def reset(self) -> None:
        super().reset()
        truncate(self.rows.model._meta.db_table)

    def enqueue(self, number: int) -> None:
        self.task.enqueue(number)

    async def aenqueue(self, number: int) -> None:
        await self.task.aenqueue(number)

    def stored(self) -> int:
        return int(self.rows.count())

    def start_workers(self, count: int) -> list[Any]:
        return [processes.tasks_db_worker(index) for index in range(count)]

    def finished(self) -> int:
        return int(self.rows.filter(status=Status.SUCCESSFUL).count())

    def window(self) -> tuple[float, float]:
        times = self.rows.aggregate(first=Min("started_at"), last=Max("finished_at"))
        return times["first"].timestamp(), times["last"].timestamp()

    def check(self, expected: int) -> dict[str, int]:
        counts = super().check(expected)
        counts["rows_not_successful"] = int(self.rows.exclude(status=Status.SUCCESSFUL).count())
        table = self.rows.model._meta.db_table
        counts["rows_run_more_than_once"] = int(
            scalar(f"SELECT count(*) FROM {table} WHERE jsonb_array_length(worker_ids) > 1")
        )
        return counts
