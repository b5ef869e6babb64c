"""Every task figure of one system, in one order: its row of the comparison.

Enqueues run with no worker up, so that they and the drains that follow are not measured against each other;
the latency runs on the 2 workers of the last drain, idle by then. Ours is then profiled in passes of its own.
"""

from typing import Any

from benchmarks import enqueueing, processes, profiling, throughput
from benchmarks.systems import Ours, System


def measure(system: System, count: int, latency_tasks: int, latency_rate: float) -> dict[str, Any]:
    run = getattr(system, "run", None)
    result: dict[str, Any] = {"system": system.name, "store": system.store, "concurrency": system.concurrency}
    system.reset()
    result["enqueue_in_view"] = enqueueing.in_view(system, count)
    system.reset()
    result["enqueue_bulk"] = enqueueing.bulk(system, count)
    system.reset()
    result["enqueue_sync"] = throughput.enqueue_sync(system, count)
    result["drain_1"], workers = throughput.drain(system, count, 1)
    system.stop_workers(workers)
    system.reset()
    result["enqueue_async"] = (
        throughput.enqueue_async(system, count, run) if run else throughput.enqueue_async(system, count)
    )
    if system.max_workers >= 2:
        result["drain_2"], workers = throughput.drain(system, count, 2)
    else:
        result["drain_1_after_async"], workers = throughput.drain(system, count, 1)
    system.reset()
    result["latency"] = throughput.latency(system, latency_tasks, latency_rate)
    system.stop_workers(workers)
    result["concurrency_per_worker"] = processes.CONCURRENCY
    if type(system) is Ours:
        result["profiles"] = profiling.profile_ours(system, count, latency_tasks, latency_rate)
    return result
