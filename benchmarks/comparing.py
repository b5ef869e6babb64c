"""Every task figure of one system, in one order: its row of the comparison.

Enqueues run with no worker up, so that they and the drains that follow are not measured against each other;
the latency runs on the 2 workers of the last drain, idle by then. Ours is then profiled in passes of its own.
The wall-clock seconds of each step are kept too, to see where a run's time goes.
"""

import time
from collections.abc import Callable
from typing import Any

from benchmarks import enqueueing, processes, profiling, throughput
from benchmarks.systems import Ours, System


def measure(system: System, count: int, latency_tasks: int, latency_rate: float) -> dict[str, Any]:
    steps: dict[str, float] = {}

    def step(name: str, call: Callable[..., Any], *args: Any) -> Any:
        started = time.monotonic()
        try:
            return call(*args)
        finally:
            steps[name] = round(time.monotonic() - started, 1)

    run = getattr(system, "run", None)
    result: dict[str, Any] = {"system": system.name, "store": system.store, "concurrency": system.concurrency}
    system.reset()
    result["enqueue_in_view"] = step("enqueue_in_view", enqueueing.in_view, system, min(count, enqueueing.IN_VIEW))
    system.reset()
    result["enqueue_bulk"] = step("enqueue_bulk", enqueueing.bulk, system, count)
    system.reset()
    result["enqueue_sync"] = step("enqueue_sync", throughput.enqueue_sync, system, count)
    result["drain_1"], workers = step("drain_1", throughput.drain, system, count, 1)
    step("stop_1", system.stop_workers, workers)
    system.reset()
    asynchronous = (system, count, run) if run else (system, count)
    result["enqueue_async"] = step("enqueue_async", throughput.enqueue_async, *asynchronous)
    drain = "drain_2" if system.max_workers >= 2 else "drain_1_after_async"
    result[drain], workers = step(drain, throughput.drain, system, count, min(2, system.max_workers))
    system.reset()
    result["latency"] = step("latency", throughput.latency, system, latency_tasks, latency_rate)
    step("stop_2", system.stop_workers, workers)
    result["concurrency_per_worker"] = processes.CONCURRENCY
    if type(system) is Ours:
        profiles = (system, count, latency_tasks, latency_rate)
        result["profiles"] = step("profiles", profiling.profile_ours, *profiles)
    result["step_seconds"] = steps
    return result
