"""Where the time goes: py-spy samples of a running process, summed per function.

The run profiles our worker during a 2-worker drain and during the latency figure, and our enqueue loops (one
call at a time, in a view's transaction, in bulk), in passes of their own after the measured figures, so that
sampling slows no figure of the comparison. `python -m benchmarks.profiling STACKS.txt` prints the functions
holding the most samples (inclusive and self), from the collapsed stacks `py-spy record --format raw` writes.
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks import enqueueing, processes, throughput
from benchmarks.systems import Ours

PY_SPY = Path(sys.executable).parent / "py-spy"
PROFILES = processes.RESULTS / "profiles"
#: Functions kept per profile in the results.
TOP = 60


def record(pid: int, seconds: float, out: Path, *, idle: bool = False) -> Path:
    """Sample ``pid`` for ``seconds``; with ``idle``, waiting threads count too (time spent on the database)."""
    command = [*py_spy_command(pid, out, idle=idle), "--duration", str(int(seconds))]
    subprocess.run(command, check=True, capture_output=True)
    return out


@contextmanager
def recording(pid: int, out: Path, *, idle: bool = False) -> Iterator[Path]:
    """Sample ``pid`` while the block runs (py-spy writes its file when interrupted)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    sampler = subprocess.Popen(py_spy_command(pid, out, idle=idle), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)  # py-spy attaches before the measured work starts
    try:
        yield out
    finally:
        sampler.send_signal(signal.SIGINT)
        _, errors = sampler.communicate(timeout=60)
        if not out.exists():
            raise RuntimeError(f"py-spy wrote no profile of {pid}: {errors.decode(errors='replace')[-500:]}")


def py_spy_command(pid: int, out: Path, *, idle: bool) -> list[str]:
    command = [str(PY_SPY), "record", "--pid", str(pid), "--format", "raw", "--rate", "250", "--nonblocking"]
    return command + ["--output", str(out)] + (["--idle"] if idle else [])


def summarize(stacks: Path, top: int | None = 25, within: str = "") -> list[tuple[str, float, float]]:
    """(function, inclusive share, self share) of the ``top`` functions by inclusive share (None: all of them).

    With ``within`` (a function's name), only the stacks passing through it count: the loop being measured,
    not the other threads of the process.
    """
    inclusive, own, total = tally(stacks, within)
    return [(name, count / total, own[name] / total) for name, count in inclusive.most_common(top)]


def tally(stacks: Path, within: str = "") -> tuple[Counter[str], Counter[str], int]:
    """Samples per function, inclusive and self, and the samples in all, of the stacks through ``within``."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        names = [function_name(frame) for frame in frames.split(";") if frame]
        if within and not any(name.startswith(within + " (") for name in names):
            continue
        samples = int(count)
        total += samples
        for name in set(names):
            inclusive[name] += samples
        if names:
            own[names[-1]] += samples
    return inclusive, own, max(total, 1)


def function_name(frame: str) -> str:
    """ "function (where)" of a py-spy frame "function (path:line)": the path inside the repository or inside
    site-packages, or the standard library module's file name."""
    function, _, location = frame.partition(" (")
    path = location.rsplit(":", 1)[0]
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif path.startswith(str(processes.ROOT) + "/"):
        path = path[len(str(processes.ROOT)) + 1 :]
    elif path.startswith("/"):
        path = path.rsplit("/", 1)[-1]
    return f"{function} ({path})"


def profile(stacks: Path, within: str = "") -> dict[str, Any]:
    """What the results keep of one profile: where its stacks are, its samples and its top functions."""
    every = summarize(stacks, None, within)
    return {
        "stacks": str(stacks.relative_to(processes.ROOT)),
        "within": within,
        "samples": tally(stacks, within)[2],
        "top": every[:TOP],
        "top_self": sorted(every, key=lambda row: row[2], reverse=True)[:TOP],
    }


def profile_ours(system: Ours, count: int, latency_tasks: int, latency_rate: float) -> dict[str, Any]:
    """Profiles of our enqueue loops (this process, waits included) and of a worker (its CPU), keyed by figure."""
    here = os.getpid()
    profiles: dict[str, Any] = {}
    system.reset()
    with recording(here, PROFILES / "enqueue_in_view.txt", idle=True) as stacks:
        enqueueing.in_view(system, min(count, enqueueing.IN_VIEW))
    profiles["enqueue_in_view"] = profile(stacks, "in_view")
    system.reset()
    with recording(here, PROFILES / "enqueue_bulk.txt", idle=True) as stacks:
        enqueueing.bulk(system, count)
    profiles["enqueue_bulk"] = profile(stacks, "bulk")
    system.reset()
    with recording(here, PROFILES / "enqueue_sync.txt", idle=True) as stacks:
        throughput.enqueue_sync(system, count)
    profiles["enqueue_sync"] = profile(stacks, "enqueue_sync")
    workers = system.start_workers(2)
    worker = next(process for process in workers if "runworker" in process.args)
    throughput.wait_for_progress(lambda: system.finished() > 0, system.finished, throughput.START)
    with recording(worker.pid, PROFILES / "drain_2.txt") as stacks:
        throughput.wait_for_progress(lambda: system.finished() >= count, system.finished)
    profiles["drain_2"] = profile(stacks)
    system.reset()
    with recording(worker.pid, PROFILES / "latency.txt") as stacks:
        throughput.latency(system, latency_tasks, latency_rate)
    profiles["latency"] = profile(stacks)
    system.stop_workers(workers)
    return profiles


def main() -> None:
    within = sys.argv[3] if len(sys.argv) > 3 else ""
    for name, share, self_share in summarize(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 25, within):
        print(f"{share:6.1%} {self_share:6.1%}  {name}")


if __name__ == "__main__":
    main()
