"""The client processes of the fan-out benchmark (benchmarks.fan_clients), driven from the benchmark."""

import json
import subprocess
import sys


class FanCrowd:
    """``count`` kitchen-board clients over ``processes`` processes, spread evenly over ``urls``."""

    def __init__(self, urls: list[str], cookie: str, count: int, processes: int) -> None:
        shares = [count // processes + (1 if index < count % processes else 0) for index in range(processes)]
        firsts = [sum(shares[:index]) for index in range(processes)]
        self.children = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.fan_clients", cookie, str(first), str(share), *urls],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for first, share in zip(firsts, shares, strict=True)
            if share
        ]
        for child in self.children:
            self.answer(child, "ready")

    def answer(self, child: subprocess.Popen[str], expected: str | None = None) -> str:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if expected is not None and line != expected:
            raise RuntimeError(f"client process {child.pid} said {line!r} instead of {expected!r}")
        return line

    def pids(self) -> list[int]:
        return [child.pid for child in self.children]

    def tell(self, command: str) -> None:
        for child in self.children:
            assert child.stdin is not None
            child.stdin.write(command + "\n")
            child.stdin.flush()

    def delays_after(self, stamp: float) -> list[float | None]:
        """Each client's seconds from ``stamp`` (time.time()) to its first order event at or after it."""
        self.tell(f"after {stamp!r}")
        return [delay for child in self.children for delay in json.loads(self.answer(child))]

    def stop(self) -> None:
        self.tell("stop")
        for child in self.children:
            self.answer(child, "done")
            child.wait(30)

    def kill(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()
