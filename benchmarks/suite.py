"""One benchmark in a process of its own: `python -m benchmarks.suite NAME OUT.json [options]`.

Each suite needs Django configured for one database and one channel layer, so run.py starts a process per
suite with the environment that picks them, and reads back the JSON the suite writes.
"""

import argparse
import json
import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")


def tasks(options: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import processes, systems, throughput

    system = {
        "ours": systems.Ours,
        "ours-in-process": systems.OursInProcess,
        "raw": systems.RawChannels,
        "celery": systems.Celery,
    }[options.system]()
    run = getattr(system, "run", None)
    count = options.tasks
    result: dict[str, Any] = {"system": system.name}
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
    result["latency"] = throughput.latency(system, options.latency_tasks, options.latency_rate)
    system.stop_workers(workers)
    result["concurrency_per_worker"] = processes.CONCURRENCY
    return result


def retry_path(options: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import retrying

    return retrying.measure(options.tasks)


def dispatcher(options: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import dispatching

    return dispatching.measure([int(size) for size in options.sizes.split(",")])


def full_channel(options: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import dispatching

    return dispatching.measure_full_channel([int(size) for size in options.sizes.split(",")], options.rounds)


def fanout(options: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import fanning

    return fanning.measure([int(size) for size in options.sizes.split(",")], options.rounds)


def endtoend(options: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import endtoend

    return endtoend.measure(options.boards, options.orders, options.rate)


SUITES = {"tasks": tasks, "retry": retry_path, "dispatcher": dispatcher, "full-channel": full_channel, "fanout": fanout}
SUITES["endtoend"] = endtoend


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("suite", choices=sorted(SUITES))
    parser.add_argument("out")
    parser.add_argument("--system", default="ours")
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--latency-tasks", type=int, default=200)
    parser.add_argument("--latency-rate", type=float, default=100.0)
    parser.add_argument("--sizes", default="")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--boards", type=int, default=500)
    parser.add_argument("--orders", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=50.0)
    options = parser.parse_args()
    django.setup()
    result = SUITES[options.suite](options)
    with open(options.out, "w") as out:
        json.dump(result, out, indent=2, default=str)


if __name__ == "__main__":
    main()
