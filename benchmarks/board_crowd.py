"""The board processes of the end-to-end benchmark (benchmarks.board_clients), driven from the benchmark."""

import json
import subprocess
import sys
from typing import Any


class Crowd:
    """The board processes of a benchmark, driven from the benchmark's own process."""

    def __init__(self, url: str, origin: str, cookie: str, count: int, processes: int, folder: str) -> None:
        shares = [count // processes + (1 if index < count % processes else 0) for index in range(processes)]
        self.outs = [f"{folder}/boards-{index}.json" for index in range(processes)]
        self.children = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.board_clients", url, origin, cookie, str(share), out],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for share, out in zip(shares, self.outs, strict=True)
        ]
        for child in self.children:
            self.answer(child, "ready")

    def answer(self, child: subprocess.Popen[str], expected: str | None = None) -> str:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if expected is not None and line != expected:
            raise RuntimeError(f"board process {child.pid} said {line!r} instead of {expected!r}")
        return line

    def tell(self, command: str) -> None:
        for child in self.children:
            assert child.stdin is not None
            child.stdin.write(command + "\n")
            child.stdin.flush()

    def status(self) -> dict[str, float]:
        """What the boards of every process have seen so far, summed."""
        self.tell("status")
        total: dict[str, float] = {}
        for child in self.children:
            for name, value in json.loads(self.answer(child)).items():
                total[name] = total.get(name, 0) + value
        return total

    def stop(self) -> list[dict[str, Any]]:
        """Close every board; what each process wrote (its CPU seconds and its boards)."""
        self.tell("stop")
        for child in self.children:
            self.answer(child, "done")
            child.wait(30)
        results = []
        for out in self.outs:
            with open(out) as file:
                results.append(json.load(file))
        return results

    def kill(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()
