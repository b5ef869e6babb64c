"""The worker's lane of threads: calls that come together run on one thread in turn, and none waits behind a call
that blocks."""

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from retry.worker import threads


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(4)
    yield pool
    pool.shutdown(wait=True)


async def test_calls_that_come_together_run_on_one_thread_in_turn(executor: ThreadPoolExecutor) -> None:
    lane = threads.Lane(executor)
    ran = await asyncio.gather(*(lane.run(lambda n=number: (n, threading.get_ident())) for number in range(8)))
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


async def test_a_call_whose_caller_stopped_waiting_before_it_started_is_not_run(executor: ThreadPoolExecutor) -> None:
    lane = threads.Lane(executor)
    release, ran = threading.Event(), list[str]()
    first = lane.run(release.wait, 30)
    dropped = lane.run(ran.append, "dropped")
    dropped.cancel()
    release.set()
    await first
    assert await lane.run(ran.append, "kept") is None
    assert ran == ["kept"]
