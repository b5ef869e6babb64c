"""Database reads shared by every board of this process: one read serves all the consumers that need it.

The database thread runs one read at a time, so a read per consumer and event would queue a thousand reads
behind each change. Here a consumer joins the latest read of the same key when that read is fresh enough
for it: not started yet, or started after the moment the consumer names. The reads still waiting when one
begins are done with it (Line): of any key, in one query, for a kind that can read many keys at once. Reads
carry the monotonic time their queries began, so a consumer can tell an older read from a newer one and never
go back in time.
"""

import asyncio
import copy
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from channels.db import database_sync_to_async

#: Reads and event sightings remembered per kind; a forgotten one costs one more read, nothing else.
MEMORY = 4096


def remember[K: Hashable, V](memory: OrderedDict[K, V], key: K, value: V) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > MEMORY:
        memory.popitem(last=False)


#: Numbers reads in the order they are queued: the database thread runs them in that order.
queued = itertools.count()
#: Keys one batched read (SharedReads' ``many``) reads at most.
BATCH = 200


class Read:
    """One read in the database thread: its result, and when its queries began (None until they do).

    A read of a SharedReads with a waiting line may be done by an earlier read of its line: one that runs before
    it, of the same key (or of any key when the line reads many at once), once what it must follow began.
    """

    def __init__(
        self, function: Callable[[Any], Any], key: Hashable, line: "Line", after: "Read | None" = None
    ) -> None:
        self.started: float | None = None
        self.queued = next(queued)
        self.key = key
        #: The read this one must begin after (SharedReads.read_after), if any.
        self.after = after
        self.line = line
        #: Set by the read that did this one: (True, result) or (False, exception).
        self.answer: tuple[bool, Any] | None = None
        self.answered = threading.Event()
        line.join(self)
        self.future = asyncio.ensure_future(database_sync_to_async(self.run)(function, key))

    def run(self, function: Callable[[Any], Any], key: Hashable) -> Any:
        joined = self.line.take(self)
        if joined is None:  # an earlier read did this one
            self.answered.wait()
            assert self.answer is not None
            done, value = self.answer
            if done:
                return value
            # Each read raises an error of its own: re-raised, the one error would gather every read's frames.
            raise own_copy(value)
        try:
            results = self.line.read(function, [self, *joined])
        except BaseException as error:
            for read in joined:
                read.settle((False, error))
            raise
        for read in joined:  # every one settled, or its job would wait in the database thread for good
            read.settle((True, results[read.key]) if read.key in results else (False, KeyError(read.key)))
        return results[key]

    def settle(self, answer: tuple[bool, Any]) -> None:
        self.answer = answer
        self.answered.set()

    def may_begin(self, moment: float) -> bool:
        """Whether this read's queries may begin at ``moment``: what it must follow began by then."""
        return self.after is None or (self.after.started is not None and self.after.started <= moment)

    def fresh_since(self, moment: float) -> bool:
        return self.started is None or self.started >= moment

    async def result(self) -> tuple[float, Any]:
        # Waited for, not awaited: a consumer that goes away must not cancel the read the others wait for. A read
        # that is done answers at once: a wait schedules a callback and a turn of the loop for each of the boards
        # that share it: with 2,500 boards, two thirds of what an event cost daphne.
        if not self.future.done():
            await asyncio.wait([self.future])
        error = self.future.exception()
        if error is not None:
            # Each caller raises an exception of its own. The one error raised in every waiting consumer gathered
            # all their frames in its traceback, and the server logs it once per consumer: with 500 boards,
            # hundreds of thousands of lines that held the web process for minutes.
            mine = own_copy(error)
            if mine is error:
                raise error
            raise mine from error
        assert self.started is not None
        return self.started, self.future.result()


def own_copy(error: BaseException) -> BaseException:
    """``error``'s type and arguments in a new exception; ``error`` itself if it cannot be copied, so that callers
    catching its type (a DatabaseError: the boards' outage handling) still catch it."""
    try:
        return copy.copy(error)
    except Exception:
        return error


class Line:
    """The reads of one SharedReads that have not begun: the first to run does those it can along with its own.

    The database thread runs one read at a time; while it is busy, the reads the boards ask for wait in its queue.
    Each would run the same queries for another key: here the first one reads every waiting key at once (with
    ``many``), or, without it, does the waiting reads of its own key.
    """

    def __init__(self, owner: "SharedReads") -> None:
        self.owner = owner
        self.lock = threading.Lock()
        self.waiting: dict[Read, None] = {}

    def join(self, read: Read) -> None:
        with self.lock:
            self.waiting[read] = None

    def take(self, first: Read) -> list[Read] | None:
        """Begin ``first`` and the waiting reads it does; None when an earlier read did ``first``."""
        with self.lock:
            if first not in self.waiting:
                return None
            del self.waiting[first]
            moment = time.monotonic()
            first.started = moment
            joined = [read for read in self.waiting if self.fits(first, read, moment)][: BATCH - 1]
            for read in joined:
                del self.waiting[read]
                read.started = moment
            return joined

    def fits(self, first: Read, read: Read, moment: float) -> bool:
        return (self.owner.many is not None or read.key == first.key) and read.may_begin(moment)

    def read(self, function: Callable[[Any], Any], reads: list[Read]) -> dict[Hashable, Any]:
        keys = list(dict.fromkeys(read.key for read in reads))
        if len(keys) == 1:
            return {keys[0]: function(keys[0])}
        assert self.owner.many is not None, "without many, a read does only the waiting reads of its own key"
        return self.owner.many(keys)


class SharedReads:
    """Reads of ``function(key)`` shared by the consumers of this process; each call returns (began, result).

    ``many(keys)``, when given, reads several keys in one go (the reads waiting together): a dict of each key's
    result, as ``function`` gives it for one.
    """

    def __init__(
        self,
        function: Callable[[Any], Any],
        many: Callable[[list[Any]], dict[Any, Any]] | None = None,
    ) -> None:
        self.function = function
        self.many = many
        self.loop: asyncio.AbstractEventLoop | None = None

    def memory(self) -> tuple[OrderedDict[Hashable, Read], OrderedDict[Hashable, float]]:
        # Futures belong to one event loop; a new loop (a test, a restarted server) starts afresh.
        if self.loop is not asyncio.get_running_loop():
            self.loop = asyncio.get_running_loop()
            self.reads: OrderedDict[Hashable, Read] = OrderedDict()
            self.sightings: OrderedDict[Hashable, float] = OrderedDict()
            self.line = Line(self)
        return self.reads, self.sightings

    async def since(self, moment: float, key: Hashable) -> tuple[float, Any]:
        """A read of ``key`` whose queries begin at ``moment`` or later."""
        return await self.read_since(moment, key).result()

    def read_since(self, moment: float, key: Hashable) -> Read:
        """``since``'s read, started now when the latest is older (its result comes with ``await read.result()``)."""
        reads, _ = self.memory()
        read = reads.get(key)
        if read is None or not read.fresh_since(moment):
            read = self.start(key)
        return read

    def read_after(self, earlier: Read, key: Hashable) -> Read:
        """A read of ``key`` that begins after ``earlier`` began: the latest if so, else one queued after it.

        A read queued after ``earlier`` begins after it: the database thread runs reads in the order they are
        queued, and a read done early by another of its key (Line) never is one that must follow a read not begun.
        """
        reads, _ = self.memory()
        read = reads.get(key)
        if read is not None and (
            read.queued > earlier.queued or (earlier.started is not None and read.fresh_since(earlier.started))
        ):
            return read
        return self.start(key, after=earlier)

    def start(self, key: Hashable, after: Read | None = None) -> Read:
        reads, _ = self.memory()
        read = Read(self.function, key, self.line, after)
        read.future.add_done_callback(lambda done: self.forget_failed(key, read))
        remember(reads, key, read)
        return read

    async def now(self, key: Hashable) -> tuple[float, Any]:
        """A read that sees every change committed before this call."""
        return await self.since(time.monotonic(), key)

    async def after_event(self, event: Hashable, key: Hashable) -> tuple[float, Any]:
        """A read that began after ``event`` first reached this process, so it sees the change it announces."""
        return await self.read_after_event(event, key).result()

    def read_after_event(self, event: Hashable, key: Hashable) -> Read:
        """``after_event``'s read, started now when none fits."""
        _, sightings = self.memory()
        if event not in sightings:
            remember(sightings, event, time.monotonic())
        return self.read_since(sightings[event], key)

    def forget_failed(self, key: Hashable, read: Read) -> None:
        failed = read.future.cancelled() or read.future.exception() is not None
        if failed and self.reads.get(key) is read:
            del self.reads[key]
