"""The worker's lane of threads: calls that come together run on one thread in turn, and none waits behind a call
that blocks."""

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from retry.worker import threads


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(4)
    yield pool
    pool.shutdown(wait=True)


async def test_calls_that_come_together_run_on_one_thread_in_turn(
    executor: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first call holds its thread until the others are in the lane, and counts as soon over (SPREAD, long
    # here): on a loaded machine the loop may be descheduled between two calls for longer than the real SPREAD.
    monkeypatch.setattr(threads, "SPREAD", 10.0)
    lane = threads.Lane(executor)
    all_in = threading.Event()

    def call(number: int) -> tuple[int, int]:
        if number == 0:
            all_in.wait(5)
        return number, threading.get_ident()

    futures = [lane.run(call, number) for number in range(8)]
    all_in.set()
    ran = await asyncio.gather(*futures)
    assert [number for number, _ in ran] == list(range(8))
    assert len({thread for _, thread in ran}) == 1


async def test_a_call_behind_one_that_blocks_runs_on_another_thread(executor: ThreadPoolExecutor) -> None:
    lane = threads.Lane(executor)
    release = threading.Event()
    blocked = lane.run(release.wait, 30)
    behind = await asyncio.wait_for(lane.run(threading.get_ident), 10)  # would wait for the release otherwise
    assert not blocked.done()
    release.set()
    assert await blocked is True
    assert isinstance(behind, int)


async def test_an_error_reaches_its_caller_and_the_lane_goes_on(executor: ThreadPoolExecutor) -> None:
    lane = threads.Lane(executor)

    def fails() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await lane.run(fails)
    assert await lane.run(lambda: "after") == "after"


async def test_a_call_whose_caller_stopped_waiting_before_it_started_is_not_run(
    executor: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(threads, "SPREAD", 60.0)  # the dropped call waits behind the first, on its thread
    lane = threads.Lane(executor)
    release, ran = threading.Event(), list[str]()
    first = lane.run(release.wait, 30)
    dropped = lane.run(ran.append, "dropped")
    dropped.cancel()
    release.set()
    await first
    assert await lane.run(ran.append, "kept") is None
    assert ran == ["kept"]


class CountingExecutor(ThreadPoolExecutor):
    """A thread pool that counts the jobs handed to it."""

    submitted = 0

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        return super().submit(*args, **kwargs)


async def test_calls_waiting_behind_blocked_threads_start_no_more_threads_than_the_executor_has() -> None:
    pool, release = CountingExecutor(2), threading.Event()
    lane = threads.Lane(pool)
    try:
        blocked = [lane.run(release.wait, 30) for _ in range(2)]
        await asyncio.sleep(0.05)
        waiting = [lane.run(threading.get_ident) for _ in range(5)]
        await asyncio.sleep(0.1)  # a hundred times SPREAD
        assert pool.submitted == 2
        release.set()
        assert await asyncio.gather(*blocked) == [True, True]
        assert len(await asyncio.wait_for(asyncio.gather(*waiting), 10)) == 5  # taken as the threads freed
    finally:
        release.set()
        pool.shutdown(wait=True)


async def test_a_call_on_a_shut_down_executor_fails_instead_of_waiting_forever() -> None:
    pool = ThreadPoolExecutor(2)
    pool.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(threads.Lane(pool).run(threading.get_ident), 5)
