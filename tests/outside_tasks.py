"""Tasks for processes started with the production settings: they need no test app, and leave their traces in a
file named by the caller (one line per run: key and process id), which `runs` reads back."""

import os
import signal
import time
from collections import Counter
from pathlib import Path

from retry.api import task


def _append(path: str, key: str) -> None:
    with open(path, "a") as trace:  # one short write in append mode: lines of concurrent runs never mix
        trace.write(f"{key} {os.getpid()}\n")


def runs(path: str | Path) -> Counter[str]:
    """How often each key ran."""
    if not Path(path).exists():
        return Counter()
    return Counter(line.split()[0] for line in Path(path).read_text().splitlines())


@task()
def record(path: str, key: str) -> str:
    _append(path, key)
    return key


@task()
def sleep_then_record(path: str, key: str, seconds: float) -> str:
    time.sleep(seconds)
    _append(path, key)
    return key


@task(max_attempts=3)
def kills_its_worker(path: str, key: str) -> None:
    _append(path, key)
    os.kill(os.getpid(), signal.SIGKILL)


@task(max_attempts=2)
def ends_its_process(path: str, key: str, how: str) -> None:
    """Raises what would end a process that let it through: SystemExit, exit() or KeyboardInterrupt."""
    _append(path, key)
    if how == "exit":
        exit(4)  # the site builtin: raises SystemExit
    raise SystemExit(3) if how == "SystemExit" else KeyboardInterrupt


@task()
def poison_pill(path: str, key: str) -> None:
    """Kills its worker on every attempt, under the default policy."""
    kills_its_worker.call(path, key)


@task(time_limit=1)
def overruns_once(path: str, key: str, seconds: float) -> int:
    """Its first run sleeps ``seconds``, past its time limit of 1 s, then records ``key``-late; later runs return."""
    run = runs(path)[key] + 1
    _append(path, key)
    if run == 1:
        time.sleep(seconds)
        _append(path, f"{key}-late")
    return run


@task()
def spans(path: str, key: str, seconds: float) -> str:
    """Records ``key``-start, sleeps ``seconds``, then records ``key``-end: runs that overlap show in the trace."""
    _append(path, f"{key}-start")
    time.sleep(seconds)
    _append(path, f"{key}-end")
    return key


@task(takes_context=True)
def stops_when_cancelled(context, path: str, key: str, seconds: float) -> str:  # type: ignore[no-untyped-def]
    """Records ``key``-start, then works for up to ``seconds``, looking at its cancel flag every 20 ms: records
    ``key``-stopped and returns when it is raised, else records ``key``-end."""
    _append(path, f"{key}-start")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if context.cancel_requested():
            _append(path, f"{key}-stopped")
            return "stopped"
        time.sleep(0.02)
    _append(path, f"{key}-end")
    return "done"


@task()
async def async_spans(path: str, key: str, seconds: float) -> str:
    """``spans`` as a coroutine: records ``key``-start, sleeps ``seconds``, records ``key``-end."""
    import asyncio

    _append(path, f"{key}-start")
    await asyncio.sleep(seconds)
    _append(path, f"{key}-end")
    return key
