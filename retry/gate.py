"""Who runs beside whom in one worker: tasks side by side, or one task alone.

A task lost beside others more than once (TaskRecord.runs_alone) waits until the tasks already under way
here have ended, and nothing starts beside it until it ends: if it kills its worker again, it dies alone,
and the loss is charged to it alone.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable


class Gate:
    """Turns for the attempts of one worker; ``on_change`` is called whenever ``closed`` may have changed."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._condition = asyncio.Condition()
        self._on_change = on_change
        self._open = asyncio.Event()
        self._open.set()
        self._under_way = 0
        self._alone_waiting = 0
        self._alone_running = False

    @property
    def closed(self) -> bool:
        """A task that runs alone is waiting for its turn or running: the worker claims nothing new."""
        return self._alone_waiting > 0 or self._alone_running

    async def wait_open(self) -> None:
        await self._open.wait()

    @contextlib.asynccontextmanager
    async def turn(self, *, alone: bool) -> AsyncIterator[None]:
        """Hold a turn for one attempt: beside the others, or ``alone`` once every other attempt has ended."""
        async with self._condition:
            self._alone_waiting += alone
            self._changed()
            try:
                await self._condition.wait_for(lambda: not self._alone_running and not (alone and self._under_way))
            finally:
                self._alone_waiting -= alone
            self._under_way += 1
            self._alone_running = alone
            self._changed()
        try:
            yield
        finally:
            async with self._condition:
                self._under_way -= 1
                self._alone_running = False
                self._condition.notify_all()
                self._changed()

    def _changed(self) -> None:
        if self.closed:
            self._open.clear()
        else:
            self._open.set()
        self._on_change()
