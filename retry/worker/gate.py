"""Who runs beside whom in one worker: tasks side by side, or one task alone.

A task lost beside others more than once (TaskRecord.runs_alone) waits until every other task this worker
has claimed has ended, and nothing is claimed or started beside it until it ends: if it kills its worker
again, it dies alone, and the loss is charged to it alone.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable


class Gate:
    """Turns for the attempts of one worker.

    ``others`` counts the worker's claimed attempts (and claims under way), those waiting here to run alone
    included; ``on_change`` is called whenever ``closed`` may have changed; call ``notify`` when ``others`` fell.
    """

    def __init__(self, others: Callable[[], int], on_change: Callable[[], None]) -> None:
        self._others = others
        self._on_change = on_change
        self._open = asyncio.Event()
        self._open.set()
        self._waiters: list[asyncio.Future[None]] = []
        self._alone_waiting = 0
        self._alone_running = False

    @property
    def closed(self) -> bool:
        """A task that runs alone is waiting for its turn or running: the worker claims nothing new."""
        return self._alone_waiting > 0 or self._alone_running

    async def wait_open(self) -> None:
        await self._open.wait()

    def notify(self) -> None:
        """Let waiting attempts look again."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    @contextlib.asynccontextmanager
    async def turn(self, *, alone: bool) -> AsyncIterator[None]:
        """Hold a turn for one attempt: beside the others, or ``alone`` once every other attempt has ended."""
        self._alone_waiting += alone
        self._changed()
        try:
            while self._alone_running or (alone and self._others() > self._alone_waiting):
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter
        except BaseException:  # cancelled while waiting: the gate opens again if it no longer waits for anyone
            self._alone_waiting -= alone
            self._changed()
            raise
        self._alone_waiting -= alone
        self._alone_running = alone
        self._changed()
        try:
            yield
        finally:
            self._alone_running = False
            self._changed()
            self.notify()

    def _changed(self) -> None:
        if self.closed:
            self._open.clear()
        else:
            self._open.set()
        self._on_change()
