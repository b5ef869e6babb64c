"""Huey: a Redis list per queue; a task popped by a consumer that dies is gone (nothing acknowledges it)."""

from collections.abc import Sequence
from typing import Any

from benchmarks import processes
from benchmarks.systems import System


class Huey(System):
    name = "Huey"
    concurrency = "huey_consumer -k thread -w 8"
    bulk_call = "touch.map(numbers) (one enqueue per task)"

    def __init__(self) -> None:
        from benchmarks.peers import huey_app

        self.huey = huey_app.huey
        self.task = huey_app.touch

    def reset(self) -> None:
        super().reset()
        self.huey.flush()

    def enqueue(self, number: int) -> None:
        self.task(number)

    def enqueue_many(self, numbers: Sequence[int]) -> None:
        self.task.map(numbers)

    def start_workers(self, count: int) -> list[Any]:
        return [processes.huey_worker(index) for index in range(count)]
