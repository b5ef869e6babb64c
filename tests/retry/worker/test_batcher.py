"""Group commit: what arrives while a write is under way, or while the writer holds, goes in the next write."""

import asyncio

from retry.worker.batcher import Batcher


class Writes:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        await asyncio.sleep(0)
        return [item * 10 for item in items]


async def test_a_lone_item_is_written_at_once_and_later_ones_together() -> None:
    writes = Writes()
    batcher = Batcher(writes)
    first = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0)  # the first write is under way
    assert list(await asyncio.gather(first, batcher.submit(2), batcher.submit(3))) == [10, 20, 30]
    assert writes.batches == [[1], [2, 3]]


async def test_the_items_submitted_while_the_writer_holds_share_its_write() -> None:
    writes = Writes()
    release = asyncio.Event()

    async def hold() -> None:
        await release.wait()

    batcher = Batcher(writes, hold=hold)
    submitted = [asyncio.ensure_future(batcher.submit(item)) for item in (1, 2)]
    await asyncio.sleep(0.01)
    assert writes.batches == []
    submitted.append(asyncio.ensure_future(batcher.submit(3)))
    release.set()
    assert await asyncio.gather(*submitted) == [10, 20, 30]
    assert writes.batches == [[1, 2, 3]]


async def test_a_hold_that_fails_fails_every_item_it_held() -> None:
    async def broken() -> None:
        raise RuntimeError("hold")

    batcher = Batcher(Writes(), hold=broken)
    results = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert [str(result) for result in results] == ["hold", "hold"]
