"""Enqueue rate, drain rate and latency of one system: the first three figures of the comparison."""

import asyncio
import time
from typing import Any

from benchmarks import figures, proof
from benchmarks.systems import System, wait_until

#: Seconds without one more task finishing after which a drain ends and what is missing counts as lost.
STALL = 15.0
#: Seconds the workers of a drain get to start and finish their first task (a loaded machine starts Django slowly).
START = 120.0


def enqueue_sync(system: System, count: int) -> dict[str, Any]:
    """One call at a time, as a sync view does; the clock stops when every message is in the layer."""
    started = time.perf_counter()
    for number in range(count):
        system.enqueue(number)
    system.flush()
    seconds = time.perf_counter() - started
    return {"tasks": count, "seconds": round(seconds, 3), "per_second": figures.rate(count, seconds)}


def enqueue_async(system: System, count: int, run: Any = asyncio.run) -> dict[str, Any]:
    """One awaited call at a time, as an async view or consumer does."""

    async def produce() -> None:
        for number in range(count):
            await system.aenqueue(number)

    started = time.perf_counter()
    run(produce())
    system.flush()
    seconds = time.perf_counter() - started
    return {"tasks": count, "seconds": round(seconds, 3), "per_second": figures.rate(count, seconds)}


def drain(system: System, count: int, workers: int) -> tuple[dict[str, Any], list[Any]]:
    """Start ``workers`` over ``count`` waiting tasks; first start to last finish. Returns the workers, still up."""
    running = system.start_workers(workers)
    wait_for_progress(lambda: system.finished() > 0, system.finished, START)
    wait_for_progress(lambda: system.finished() >= count, system.finished)
    time.sleep(0.5)  # late duplicates would show up now
    first, last = system.window()
    seconds = last - first
    result = {
        "tasks": count,
        "workers": workers,
        "seconds": round(seconds, 3),
        "per_second": figures.rate(count, seconds),
    }
    return {**result, **system.check(count)}, running


def wait_for_progress(done: Any, progress: Any, stall: float = STALL) -> None:
    """Wait until ``done()``, or until ``progress()`` has not moved for ``stall`` seconds (lost tasks never come)."""
    last, moved = progress(), time.monotonic()
    while not done() and time.monotonic() - moved < stall:
        time.sleep(0.1)
        if (now := progress()) != last:
            last, moved = now, time.monotonic()


def latency(system: System, count: int, per_second: float) -> dict[str, Any]:
    """Enqueue ``count`` tasks at ``per_second`` to idle workers; enqueue call → task function start."""
    warm_up(system)
    sent: dict[int, float] = {}
    interval = 1.0 / per_second
    started = time.perf_counter()
    for number in range(count):
        time.sleep(max(0.0, started + number * interval - time.perf_counter()))
        sent[number] = time.time()
        system.enqueue(number)
    wait_until(lambda: proof.count() >= count, 60, f"{system.name} to start {count} tasks")
    delays = [stamp - sent[number] for number, stamp in proof.collect() if number in sent]
    return {"tasks": count, "rate": per_second, **figures.summary_ms(delays)}


def warm_up(system: System, count: int = 10, interval: float = 0.01) -> None:
    """Run a few tasks so every worker's connections, imports and caches are warm, then forget them.

    They are spaced as the measured tasks are: sent at once, they would all go to one worker (ours takes a
    backlog in one claim), and the other worker's first measured task would pay for importing the task.
    """
    for number in range(-count, 0):
        system.enqueue(number)
        time.sleep(interval)
    wait_until(lambda: proof.count() >= count, 60, f"{system.name} to warm up")
    system.reset()
