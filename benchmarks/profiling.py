"""Where a worker's time goes: py-spy samples of a running process, summed per function.

`python -m benchmarks.profiling STACKS.txt` prints the functions holding the most samples (inclusive and
self), from the collapsed stacks `py-spy record --format raw` writes.
"""

import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"


def record(pid: int, seconds: float, out: Path, *, idle: bool = False) -> Path:
    """Sample ``pid`` for ``seconds``; with ``idle``, waiting threads count too (time spent on the database)."""
    command = [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(int(seconds)), "--format", "raw"]
    command += ["--rate", "250", "--nonblocking", "--output", str(out)] + (["--idle"] if idle else [])
    subprocess.run(command, check=True, capture_output=True)
    return out


def summarize(stacks: Path, top: int = 25) -> list[tuple[str, float, float]]:
    """(function, inclusive share, self share) of the ``top`` functions by inclusive share."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        names = [
            frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
            for frame in frames.split(";")
            if frame
        ]
        for name in set(names):
            inclusive[name] += samples
        if names:
            own[names[-1]] += samples
    return [(name, count / total, own[name] / total) for name, count in inclusive.most_common(top)]


def main() -> None:
    for name, share, self_share in summarize(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 25):
        print(f"{share:6.1%} {self_share:6.1%}  {name}")


if __name__ == "__main__":
    main()
