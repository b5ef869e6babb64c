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
    from benchmarks import comparing, systems

    system = systems.build(options.system)
    return comparing.measure(system, options.tasks, options.latency_tasks, options.latency_rate)


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


SUITES = {
    "tasks": tasks,
    "retry": retry_path,
    "dispatcher": dispatcher,
    "full-channel": full_channel,
    "fanout": fanout,
    "endtoend": endtoend,
}


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
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0)
    options = parser.parse_args()
    django.setup()
    from benchmarks import processes

    try:
        result = SUITES[options.suite](options)
    finally:
        processes.stop(processes.STARTED)
    with open(options.out, "w") as out:
        json.dump(result, out, indent=2, default=str)


if __name__ == "__main__":
    main()
