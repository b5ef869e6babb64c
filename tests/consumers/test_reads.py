"""Reads shared by the boards of one process: who joins a read, who starts a new one, and in what order."""

import asyncio
import threading
import traceback
from collections.abc import Awaitable

import pytest
from django.db import DatabaseError

from consumers.reads import Read, SharedReads

# The reads run through channels' database_sync_to_async, which checks the connection its thread kept from an
# earlier test of the process: database access is allowed, so the result does not depend on which tests ran first.
pytestmark = [pytest.mark.timeout(30), pytest.mark.django_db]


class Source:
    """A read that counts its calls and can be held open until the test lets it finish."""

    def __init__(self) -> None:
        self.calls = 0
        self.value = "first"
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, key: object) -> str:
        self.calls += 1
        value = f"{key}:{self.value}"  # what the database says when the read begins
        self.entered.set()
        self.gate.wait(10)
        return value


async def held[T](source: Source, call: Awaitable[T]) -> asyncio.Future[T]:
    """Start ``call`` with the source's gate closed; return once the read is under way."""
    source.gate.clear()
    source.entered.clear()
    started = asyncio.ensure_future(call)
    await asyncio.to_thread(source.entered.wait, 10)
    return started


async def test_every_consumer_of_one_event_shares_one_read() -> None:
    source = Source()
    reads = SharedReads(source)
    results = await asyncio.gather(*(reads.after_event(("s", 1, 7), 7) for _ in range(200)))
    assert source.calls == 1
    assert {value for _, value in results} == {"7:first"}


async def test_a_consumer_that_sees_the_event_later_still_shares_the_read() -> None:
    source = Source()
    reads = SharedReads(source)
    first = await reads.after_event(("s", 1, 7), 7)
    late = await reads.after_event(("s", 1, 7), 7)
    assert source.calls == 1 and late == first


async def test_a_new_event_reads_again() -> None:
    source = Source()
    reads = SharedReads(source)
    before, _ = await reads.after_event(("s", 1, 7), 7)
    source.value = "second"
    after, value = await reads.after_event(("s", 2, 7), 7)
    assert source.calls == 2 and value == "7:second" and after > before


async def test_a_read_under_way_is_too_old_for_a_later_caller_but_the_queued_one_is_shared() -> None:
    source = Source()
    reads = SharedReads(source)
    running = await held(source, reads.now(7))
    # Both calls come after the running read began: it may miss what they need, so one new read serves both.
    later = [asyncio.ensure_future(reads.now(7)) for _ in range(2)]
    await asyncio.sleep(0.05)
    source.value = "second"
    source.gate.set()
    (first_at, first), *rest = await asyncio.gather(running, *later)
    assert first == "7:first" and [value for _, value in rest] == ["7:second", "7:second"]
    assert source.calls == 2 and rest[0][0] == rest[1][0] > first_at


async def test_a_repeated_old_event_gets_the_newest_read_not_its_own() -> None:
    source = Source()
    reads = SharedReads(source)
    await reads.after_event(("s", 1, 7), 7)
    source.value = "second"
    newest = await reads.after_event(("s", 2, 7), 7)
    assert await reads.after_event(("s", 1, 7), 7) == newest


async def test_keys_are_read_apart() -> None:
    source = Source()
    reads = SharedReads(source)
    values = await asyncio.gather(reads.after_event(("s", 1), 7), reads.after_event(("s", 1), 8))
    assert [value for _, value in values] == ["7:first", "8:first"] and source.calls == 2


async def test_a_failed_read_is_not_shared_with_the_next_caller() -> None:
    calls = []

    def flaky(key: object) -> str:
        calls.append(key)
        if len(calls) == 1:
            raise ConnectionError("database went away")
        return "card"

    reads = SharedReads(flaky)
    with pytest.raises(ConnectionError):
        await reads.after_event(("s", 1), 7)
    assert (await reads.after_event(("s", 1), 7))[1] == "card"


async def climb(frames: int, read: Read) -> object:
    return await (climb(frames - 1, read) if frames else read.result())


async def raised_through(frames: int, read: Read) -> BaseException:
    """What awaiting ``read`` raises, ``frames`` coroutine frames up (as a board's stack is)."""
    try:
        await climb(frames, read)
    except ConnectionError as error:
        return error
    raise AssertionError("the read did not fail")


async def test_a_failed_read_gives_each_caller_an_exception_of_its_own() -> None:
    """One exception object raised in every waiting board would gather all their frames in its traceback, and the
    server logs each board's: with 500 boards, hundreds of thousands of lines that stall the web process."""

    def fail(key: object) -> str:
        raise ConnectionError("database went away")

    read = SharedReads(fail).read_since(float("-inf"), 7)
    await asyncio.wait([read.future])
    errors = [await raised_through(5, read) for _ in range(20)]
    assert len({id(error) for error in errors}) == len(errors)
    depths = {len(traceback.extract_tb(error.__traceback__)) for error in errors}
    assert len(depths) == 1, depths
    assert all(str(error) == "database went away" for error in errors)


async def test_a_caller_that_goes_away_does_not_cancel_the_read_of_the_others() -> None:
    source = Source()
    reads = SharedReads(source)
    leaving = await held(source, reads.now(7))
    staying = asyncio.ensure_future(reads.since(float("-inf"), 7))
    await asyncio.sleep(0.05)
    leaving.cancel()
    source.gate.set()
    assert (await staying)[1] == "7:first" and source.calls == 1


async def test_a_read_after_another_shares_one_queued_behind_it_and_starts_one_otherwise() -> None:
    cards, sessions = Source(), Source()
    card_reads, session_reads = SharedReads(cards), SharedReads(sessions)
    early = session_reads.read_since(float("-inf"), "key")  # queued before the card read: it may begin before it
    card = card_reads.read_after_event(("s", 1, 7), 7)
    after = session_reads.read_after(card, "key")
    assert after is not early
    assert session_reads.read_after(card, "key") is after  # queued behind the card read: shared
    await asyncio.gather(early.result(), card.result(), after.result())
    assert early.started is not None and card.started is not None and after.started is not None
    assert after.started >= card.started
    assert session_reads.read_after(card, "key") is after  # began after the card read
    assert sessions.calls == 2


async def test_a_started_read_is_the_same_read_the_callers_of_since_get() -> None:
    source = Source()
    reads = SharedReads(source)
    read = reads.read_after_event(("s", 1, 7), 7)
    assert await reads.after_event(("s", 1, 7), 7) == await read.result()
    assert source.calls == 1


async def test_a_finished_read_gives_its_result_without_a_turn_of_the_loop() -> None:
    # Every board of the process asks the same finished read for its result at each event: a wait per board
    # would schedule a callback and a turn of the event loop each time.
    reads = SharedReads(Source())
    read = reads.read_since(float("-inf"), 7)
    first = await read.result()
    asking = read.result()
    with pytest.raises(StopIteration) as finished:
        asking.send(None)  # runs the coroutine up to its first suspension: there is none
    assert finished.value.value == first == (read.started, "7:first")


class Uncopyable(DatabaseError):
    """An error whose arguments do not rebuild it (as some drivers' errors): copying it fails."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


async def test_a_failed_read_whose_error_cannot_be_copied_raises_its_own_type() -> None:
    def fail(key: object) -> str:
        raise Uncopyable(57, "database went away")

    read = SharedReads(fail).read_since(float("-inf"), 7)
    await asyncio.wait([read.future])
    with pytest.raises(DatabaseError, match="database went away"):  # the boards' outage handling catches it
        await read.result()


class Batch:
    """Reads of many keys at once, counted; a key "bad" fails the read."""

    def __init__(self) -> None:
        self.calls: list[list[object]] = []

    def __call__(self, keys: list[object]) -> dict[object, str]:
        self.calls.append(keys)
        if "bad" in keys:
            raise ConnectionError("database went away")
        return {key: f"{key}:many" for key in keys}


async def test_the_reads_waiting_behind_one_under_way_are_done_by_one_read_of_many_keys() -> None:
    # At 50 orders a second, each order's events asked a read of its card: one at a time in the database thread,
    # they queued until the boards were seconds behind.
    source, many = Source(), Batch()
    reads = SharedReads(source, many)
    first = await held(source, reads.since(float("-inf"), 1))
    waiting = [reads.read_since(float("-inf"), key) for key in (2, 3, 4, 3)]
    source.gate.set()
    results = [await first, *[await read.result() for read in waiting]]
    assert source.calls == 1 and many.calls == [[2, 3, 4]]
    assert [value for _, value in results] == ["1:first", "2:many", "3:many", "4:many", "3:many"]
    assert len({began for began, _ in results[1:]}) == 1 and results[1][0] >= results[0][0]


async def test_a_read_that_must_follow_another_is_not_done_before_that_one_began() -> None:
    cards, sessions = Source(), Source()
    card_reads, session_reads = SharedReads(cards), SharedReads(sessions)
    sessions.gate.clear()
    early = session_reads.read_since(float("-inf"), "key")
    card = card_reads.read_since(float("-inf"), 7)
    after = session_reads.read_after(card, "key")  # queued behind the card read, and the early read runs first
    sessions.gate.set()
    await asyncio.gather(early.result(), card.result(), after.result())
    assert sessions.calls == 2
    assert early.started is not None and card.started is not None and after.started is not None
    assert early.started < card.started <= after.started


async def test_a_failed_read_of_many_keys_fails_each_read_it_did() -> None:
    source, many = Source(), Batch()
    reads = SharedReads(source, many)
    first = await held(source, reads.since(float("-inf"), 1))
    waiting = [reads.read_since(float("-inf"), key) for key in ("bad", 2)]
    source.gate.set()
    assert (await first)[1] == "1:first"
    for read in waiting:
        with pytest.raises(ConnectionError, match="database went away"):
            await read.result()
    # Each read's job raised an error of its own: one error raised by each would gather all their frames.
    first_error, second_error = (read.future.exception() for read in waiting)
    assert first_error is not second_error
    await asyncio.sleep(0)  # the failed reads' done callbacks
    assert (await reads.since(float("-inf"), 2))[1] == "2:first"  # a failed read is not shared afterwards


async def test_a_key_a_read_of_many_leaves_out_fails_that_read_alone() -> None:
    source = Source()
    reads = SharedReads(source, lambda keys: {key: "found" for key in keys if key != 2})
    first = await held(source, reads.since(float("-inf"), 1))
    missing, found = reads.read_since(float("-inf"), 2), reads.read_since(float("-inf"), 3)
    source.gate.set()
    assert (await first)[1] == "1:first" and (await found.result())[1] == "found"
    with pytest.raises(KeyError):
        await asyncio.wait_for(missing.result(), 5)  # not a database thread waiting for good
