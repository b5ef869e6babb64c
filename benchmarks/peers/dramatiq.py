"""Dramatiq with its Redis broker: a message is acknowledged after it runs, but Redis here keeps nothing on disk."""

from collections.abc import Sequence
from typing import Any

from benchmarks import processes
from benchmarks.systems import System


class Dramatiq(System):
    name = "Dramatiq (Redis)"
    concurrency = "dramatiq --processes 1 --threads 8"
    bulk_call = "group(touch.message(n) for n in numbers).run() (one enqueue per task)"

    def __init__(self) -> None:
        from benchmarks.peers import dramatiq_app

        self.broker = dramatiq_app.broker
        self.task = dramatiq_app.touch

    def reset(self) -> None:
        super().reset()
        self.broker.flush_all()

    def enqueue(self, number: int) -> None:
        self.task.send(number)

    def enqueue_many(self, numbers: Sequence[int]) -> None:
        from dramatiq import group

        group(self.task.message(number) for number in numbers).run()

    def start_workers(self, count: int) -> list[Any]:
        return [processes.dramatiq_worker(index) for index in range(count)]
