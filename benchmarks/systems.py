"""The task systems measured side by side, behind one interface: enqueue, start workers, count, check.

Ours is here; the peers are in benchmarks/peers/, one module each. ``build`` makes any of them by its key.
"""

import asyncio
import importlib
import threading
import time
from collections.abc import Sequence
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.tasks.base import TaskResultStatus as Status

from benchmarks import processes, proof
from harness.layers import flush_channel_layer

#: Each system by the key run.py passes to the suite: module and class, imported only when measured.
SYSTEMS = {
    "ours": "benchmarks.systems:Ours",
    "ours-in-process": "benchmarks.systems:OursInProcess",
    "raw": "benchmarks.peers.raw:RawChannels",
    "celery": "benchmarks.peers.celery:Celery",
    "huey": "benchmarks.peers.huey:Huey",
    "dramatiq": "benchmarks.peers.dramatiq:Dramatiq",
    "procrastinate": "benchmarks.peers.procrastinate:Procrastinate",
    "tasks-db": "benchmarks.peers.tasks_db:TasksDB",
}


def build(key: str) -> "System":
    module, name = SYSTEMS[key].split(":")
    system: System = getattr(importlib.import_module(module), name)()
    return system


class System:
    """One way to run trivial tasks; subclasses fill in each step."""

    name = ""
    #: Where waiting tasks are kept, as the table says it.
    store = "Redis (throwaway, not durable)"
    #: How the worker is told to run 8 tasks at a time.
    concurrency = ""
    #: The call that enqueues many tasks at once; empty when the system has none.
    bulk_call = ""
    #: Whether the task is written in the caller's transaction (else a view sends it from ``on_commit``).
    transactional = False
    #: Worker processes this system can run (the in-memory layer allows only the one in this process).
    max_workers = 2

    def reset(self) -> None:
        proof.clear()

    def enqueue(self, number: int) -> None:
        raise NotImplementedError

    async def aenqueue(self, number: int) -> None:
        """A system without an asyncio API for sending: an async view hands the call to a thread."""
        await sync_to_async(self.enqueue)(number)

    def enqueue_in_view(self, number: int) -> None:
        """An order row and its task, as a view does: in one transaction, or the task sent once it commits."""
        with transaction.atomic():
            add_order(number)
            if self.transactional:
                self.enqueue(number)
            else:
                transaction.on_commit(lambda: self.enqueue(number))

    def enqueue_many(self, numbers: Sequence[int]) -> None:
        """One call of ``bulk_call`` for all of ``numbers``."""
        raise NotImplementedError

    def stored(self) -> int:
        """Tasks written to the system's database (the transactional ones say; the others send on commit)."""
        raise NotImplementedError

    def flush(self) -> None:
        """Wait until every message enqueued so far is in the layer."""

    def start_workers(self, count: int) -> list[Any]:
        raise NotImplementedError

    def stop_workers(self, workers: list[Any]) -> None:
        processes.stop(workers)

    def finished(self) -> int:
        """Distinct tasks run so far: duplicates must not make a drain look complete."""
        return len({number for number, _ in proof.collect()})

    def window(self) -> tuple[float, float]:
        """Seconds since the epoch of the first start and of the last finish."""
        stamps = [stamp for _, stamp in proof.collect()]
        return min(stamps), max(stamps)

    def check(self, expected: int) -> dict[str, int]:
        """Jepsen's counts over the task numbers 0..expected-1."""
        runs: dict[int, int] = {}
        for number, _ in proof.collect():
            runs[number] = runs.get(number, 0) + 1
        return {
            "lost": sum(1 for number in range(expected) if number not in runs),
            "duplicated": sum(count - 1 for count in runs.values() if count > 1),
        }


class Ours(System):
    name = "scoopboard"
    store = "PostgreSQL"
    concurrency = "RETRY_CONCURRENCY=8 (its default)"
    bulk_call = "retry.bulk.enqueue_many(task, calls)"
    transactional = True

    def __init__(self) -> None:
        from benchmarks import tasks

        self.task = tasks.touch

    def reset(self) -> None:
        super().reset()
        clear_tables()
        flush_channel_layer()

    def enqueue(self, number: int) -> None:
        self.task.enqueue(number)

    async def aenqueue(self, number: int) -> None:
        await self.task.aenqueue(number)

    def enqueue_many(self, numbers: Sequence[int]) -> None:
        from retry import bulk

        bulk.enqueue_many(self.task, [bulk.Call(args=(number,)) for number in numbers])

    def stored(self) -> int:
        from retry.models import TaskRecord

        return TaskRecord.objects.count()

    def flush(self) -> None:
        from retry.outbox import outbox

        outbox.flush(timeout=60)

    def start_workers(self, count: int) -> list[Any]:
        return [processes.dispatcher(), *(processes.our_worker(index) for index in range(count))]

    def finished(self) -> int:
        from retry.models import TaskRecord

        return TaskRecord.objects.filter(status=Status.SUCCESSFUL).count()

    def window(self) -> tuple[float, float]:
        from retry.models import TaskAttempt, TaskRecord

        first = TaskAttempt.objects.aggregate(first=Min("started_at"))["first"]
        last = TaskRecord.objects.aggregate(last=Max("finished_at"))["last"]
        return first.timestamp(), last.timestamp()

    def check(self, expected: int) -> dict[str, int]:
        from retry.models import TaskRecord

        counts = super().check(expected)
        rows = TaskRecord.objects.filter(task_path=self.task.module_path).annotate(runs=Count("attempt_set"))
        counts["rows_not_successful"] = rows.exclude(status=Status.SUCCESSFUL).count()
        counts["rows_run_more_than_once"] = rows.filter(runs__gt=1).count()
        return counts


class OursInProcess(Ours):
    """SQLite and the in-memory layer: the worker and the dispatcher run in this process, as `manage.py serve` does."""

    name = "scoopboard (SQLite + in-memory)"
    store = "SQLite"
    max_workers = 1

    def __init__(self) -> None:
        from retry.outbox import outbox

        super().__init__()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="bench-loop", daemon=True).start()
        outbox.use_loop(self.loop)

    def reset(self) -> None:
        # The layer's queues stay: a listening worker holds on to them, and a finished drain leaves them empty.
        proof.clear()
        clear_tables()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def start_workers(self, count: int) -> list[Any]:
        from channels.routing import get_default_application

        from retry import conf
        from retry.dispatcher import Dispatcher
        from retry.worker.process import RetryWorker

        worker = RetryWorker(
            get_default_application(),
            [conf.get().CHANNEL_PREFIX + "default"],
            get_channel_layer(),
            handle_signals=False,
        )
        stop = asyncio.Event()
        running = [
            asyncio.run_coroutine_threadsafe(coroutine, self.loop)
            for coroutine in (worker.arun(), Dispatcher().run(stop))
        ]
        return [(worker, stop, running)]

    def stop_workers(self, workers: list[Any]) -> None:
        for worker, stop, running in workers:
            self.loop.call_soon_threadsafe(stop.set)
            self.loop.call_soon_threadsafe(worker.request_stop)
            for future in running:
                future.result(timeout=30)


def add_order(number: int) -> None:
    """The row a view writes with its task: a real order, without the services (they enqueue our own tasks)."""
    from orders.models import Flavour, Order, Size

    Order.objects.create(
        number=number,
        customer_name="Bench",
        customer_email="bench@example.com",
        flavour=Flavour.VANILLA,
        size=Size.SMALL,
    )


def clear_orders() -> None:
    from orders.models import Order

    if connection.vendor == "postgresql":
        truncate(Order._meta.db_table)
    else:
        Order.objects.all().delete()


def clear_tables() -> None:
    from retry.models import Heartbeat, TaskAttempt, TaskRecord

    if connection.vendor == "postgresql":
        truncate(TaskAttempt._meta.db_table, TaskRecord._meta.db_table)
    else:
        TaskAttempt.objects.all().delete()
        TaskRecord.objects.all().delete()
    Heartbeat.objects.all().delete()


def truncate(*tables: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def scalar(sql: str) -> Any:
    """The one value ``sql`` selects."""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def wait_until(predicate: Any, timeout: float, what: str) -> float:
    """Poll ``predicate`` until it holds; returns the seconds waited."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - started
