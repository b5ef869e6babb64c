"""Celery with late acknowledgement (its durable mode) on the throwaway Redis, threads pool of 8."""

from collections.abc import Sequence
from typing import Any

from benchmarks import processes
from benchmarks.systems import System


class Celery(System):
    name = "Celery (acks_late)"
    concurrency = "worker --pool threads --concurrency 8"
    bulk_call = "group(touch.s(n) for n in numbers).apply_async()"

    def __init__(self) -> None:
        from benchmarks.peers import celery_app

        self.app = celery_app.app
        self.task = celery_app.touch

    def reset(self) -> None:
        super().reset()
        self.app.control.purge()

    def enqueue(self, number: int) -> None:
        self.task.delay(number)

    def enqueue_many(self, numbers: Sequence[int]) -> None:
        from celery import group

        group(self.task.s(number) for number in numbers).apply_async()

    def start_workers(self, count: int) -> list[Any]:
        return [processes.celery_worker(index) for index in range(count)]
