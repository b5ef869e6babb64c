"""Celery on the same Redis, with late acknowledgement (its durable mode), and the same trivial task."""

import os

from celery import Celery

from benchmarks import proof

app = Celery("bench", broker=os.environ.get("BENCH_CELERY_BROKER", "redis://127.0.0.1:6379/15"))
app.conf.update(
    task_acks_late=True,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="bench.touch")  # type: ignore[untyped-decorator]  # celery ships no type hints
def touch(number: int) -> None:
    proof.mark(number)
