"""Group commit for a worker's database writes: what arrives while one write is under way goes in the next.

Without a ``hold``, a lone item is written at once; under load, one round trip and one statement serve many
tasks. A ``hold`` lets the writer wait, briefly, for items it knows are coming (the worker's successes wait
at most outcomes.SIBLING_WAIT for the task functions called less than that long before to return).
"""

import asyncio
from collections.abc import Awaitable, Callable


class Batcher[I, R]:
    """Hands the items submitted together to ``write``, which returns one result per item, in order.

    Before each write it awaits ``hold`` (if given): the items submitted meanwhile go in the same write.
    """

    def __init__(
        self,
        write: Callable[[list[I]], Awaitable[list[R]]],
        *,
        limit: int = 100,
        hold: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._write = write
        self._limit = limit
        self._hold = hold
        self._waiting: list[tuple[I, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: I) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_all())
        return await future

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                batch: list[tuple[I, asyncio.Future[R]]] = []
                try:
                    if self._hold is not None and len(self._waiting) < self._limit:
                        await self._hold()
                    batch, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
                    results = await self._write([item for item, _ in batch])
                except BaseException as error:  # each caller sees the failure; cancellation included
                    if not batch:  # the hold failed: so does every item it held
                        batch, self._waiting = self._waiting, []
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    if isinstance(error, asyncio.CancelledError):
                        raise
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._writer = None
