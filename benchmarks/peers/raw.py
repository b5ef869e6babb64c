"""Raw Channels: a message on a channel, read by Channels' own `runworker` and a plain SyncConsumer."""

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from benchmarks import processes
from benchmarks.consumers import RAW_CHANNEL
from benchmarks.systems import System
from harness.layers import flush_channel_layer


class RawChannels(System):
    name = "raw Channels"
    concurrency = "none: runworker hands one message at a time to the consumer"

    def reset(self) -> None:
        super().reset()
        flush_channel_layer()

    def enqueue(self, number: int) -> None:
        layer = get_channel_layer()
        assert layer is not None
        async_to_sync(layer.send)(RAW_CHANNEL, {"type": "task.run", "n": number})

    async def aenqueue(self, number: int) -> None:
        layer = get_channel_layer()
        assert layer is not None
        await layer.send(RAW_CHANNEL, {"type": "task.run", "n": number})

    def start_workers(self, count: int) -> list[Any]:
        return [processes.raw_worker(index) for index in range(count)]
