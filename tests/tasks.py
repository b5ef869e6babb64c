"""Fixture tasks, named for what they do."""

from __future__ import annotations

import asyncio
import datetime
import functools
import os
import time
from collections.abc import Callable
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.tasks import TaskContext

from retry.api import task
from retry.exceptions import GiveUp, Retry
from tests.effects.models import Effect, Run


class Flaky(Exception):
    pass


def _run(key: str) -> int:
    Run.objects.create(key=key, worker=str(os.getpid()))
    return Run.objects.filter(key=key).count()


def _effect(key: str) -> bool:
    try:
        with transaction.atomic():
            Effect.objects.create(key=key)
    except IntegrityError:
        return False
    return True


@task()
def record(key: str) -> str:
    _run(key)
    _effect(key)
    return key


@task()
def fails_then_succeeds(key: str, failures: int) -> int:
    runs = _run(key)
    if runs <= failures:
        raise Flaky(f"run {runs} of {key} fails on purpose")
    _effect(key)
    return runs


@task(max_attempts=3)
def always_fails(key: str) -> None:
    _run(key)
    raise Flaky(f"{key} always fails")


@task(give_up_on=(KeyError,))
def gives_up_on_key_error(key: str) -> None:
    _run(key)
    raise KeyError(key)


@task(retry_on=(Flaky,))
def retries_only_flaky(key: str) -> None:
    _run(key)
    raise ValueError(key)


@task()
def raises_give_up(key: str) -> None:
    _run(key)
    raise GiveUp("nothing to gain from trying again")


@task()
def asks_for_retry(key: str, delay: float) -> int:
    runs = _run(key)
    if runs == 1:
        raise Retry(delay=delay)
    return runs


@task()
def sleeps(key: str, seconds: float) -> str:
    _run(key)
    time.sleep(seconds)
    _effect(key)
    return key


@task()
def sleeps_timed(key: str, seconds: float) -> list[float]:
    """``sleeps``, returning when it started and ended (seconds since the epoch)."""
    started = time.time()
    sleeps.call(key, seconds)
    return [started, time.time()]


@task()
async def async_record(key: str) -> str:
    from asgiref.sync import sync_to_async

    await asyncio.sleep(0)
    await sync_to_async(_run)(key)
    await sync_to_async(_effect)(key)
    return key


@task(ignore_result=True)
def forgettable(key: str) -> None:
    _run(key)


@task(queue_name="emails", priority=5)
def on_emails_queue(key: str) -> str:
    _run(key)
    return key


@task(takes_context=True)
def knows_its_attempt(context: TaskContext[Any, Any], key: str) -> int:
    _run(key)
    if context.attempt < 2:
        raise Flaky("first attempt fails")
    return context.attempt


@task()
def returns_non_json(key: str) -> object:
    _run(key)
    return object()


def _kill_own_process(key: str) -> None:
    import signal

    _run(key)
    os.kill(os.getpid(), signal.SIGKILL)


@task(max_attempts=3)
def kills_its_worker(key: str) -> None:
    """Dies with its worker process on every attempt, as under the OOM killer or a crash in C code."""
    _kill_own_process(key)


@task()
def poison_pill(key: str) -> None:
    """Kills its worker on every attempt, under the default policy: the tasks beside it die with it."""
    _kill_own_process(key)


@task()
async def async_sleeps(key: str, seconds: float) -> str:
    from asgiref.sync import sync_to_async

    await sync_to_async(_run)(key)
    await asyncio.sleep(seconds)
    await sync_to_async(_effect)(key)
    return key


def _end_process(how: str) -> None:
    """Raise what would end a worker process that let it through."""
    if how == "exit":
        exit(4)  # the site builtin: raises SystemExit
    if how == "SystemExit":
        raise SystemExit(3)
    raise KeyboardInterrupt


@task(max_attempts=2)
def ends_its_process(key: str, how: str) -> None:
    """Raises SystemExit, calls exit() or raises KeyboardInterrupt: a task's own failure, nobody else's."""
    _run(key)
    _end_process(how)


@task(max_attempts=2)
async def async_ends_its_process(key: str, how: str) -> None:
    from asgiref.sync import sync_to_async

    await sync_to_async(_run)(key)
    _end_process(how)


#: Return values no database should be asked to store, by name (arguments cannot carry them in).
HOSTILE_RETURN_VALUES: dict[str, Callable[[], object]] = {
    "nan": lambda: float("nan"),
    "infinity": lambda: [1, {"deep": float("-inf")}],
    "nul": lambda: {"text": "a\x00b"},
    "nul-in-key": lambda: {"a\x00": 1},
    "lone-surrogate": lambda: ["\ud800"],
    "too-deep": lambda: functools.reduce(lambda inner, _: [inner], range(100_000), cast(object, [])),
    "datetime": lambda: {"when": datetime.datetime(2026, 5, 1, tzinfo=datetime.UTC)},
    "set": lambda: {1, 2},
}


@task()
def returns_hostile(key: str, kind: str) -> object:
    _run(key)
    return HOSTILE_RETURN_VALUES[kind]()


@task(takes_context=True)
def stops_when_cancelled(context, key: str, seconds: float) -> str:  # type: ignore[no-untyped-def]
    """Works for up to ``seconds``, looking at its cancel flag every 20 ms, and returns early when it is raised."""
    _run(key)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if context.cancel_requested():
            return "stopped"
        time.sleep(0.02)
    _effect(key)
    return "done"
