"""A plain Channels consumer doing what our trivial task does, without the retry layer: the raw comparison."""

from typing import Any

from channels.consumer import SyncConsumer

from benchmarks import proof

RAW_CHANNEL = "bench.raw"


class RawTaskConsumer(SyncConsumer):
    def task_run(self, message: dict[str, Any]) -> None:
        proof.mark(message["n"])
