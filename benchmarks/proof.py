"""Proof that a task ran: its number and the wall-clock time its function started, kept where every process sees it.

The same mark is made by our tasks, the raw Channels consumer and the Celery task, so every system is timed
by one clock and checked by one count. With BENCH_PROOF_URL unset (one process, in-memory layer) it is a list.
"""

import os
import threading
import time
from typing import cast

import redis

_memory: list[tuple[int, float]] = []
_runs: dict[int, int] = {}
_lock = threading.Lock()
_client: redis.Redis | None = None


def _redis() -> redis.Redis | None:
    global _client
    url = os.environ.get("BENCH_PROOF_URL")
    if not url:
        return None
    if _client is None:
        _client = redis.Redis.from_url(url)
    return _client


def key() -> str:
    return os.environ.get("BENCH_PROOF_KEY", "bench:proof")


def mark(number: int) -> None:
    """Record that task ``number`` starts now."""
    stamp = time.time()
    client = _redis()
    if client is None:
        with _lock:
            _memory.append((number, stamp))
    else:
        client.rpush(key(), f"{number} {stamp!r}")


def count_run(number: int) -> int:
    """Count one more run of task ``number`` and return how many there were (kept apart from the marks)."""
    client = _redis()
    if client is None:
        with _lock:
            _runs[number] = _runs.get(number, 0) + 1
            return _runs[number]
    return int(client.incr(f"{key()}:runs:{number}"))


def count() -> int:
    client = _redis()
    return len(_memory) if client is None else client.llen(key())


def collect() -> list[tuple[int, float]]:
    """Every mark so far, as (number, start time)."""
    client = _redis()
    if client is None:
        with _lock:
            return list(_memory)
    rows = (item.decode().split() for item in cast(list[bytes], client.lrange(key(), 0, -1)))
    return [(int(number), float(stamp)) for number, stamp in rows]


def clear() -> None:
    client = _redis()
    if client is None:
        with _lock:
            _memory.clear()
            _runs.clear()
    else:
        client.delete(key(), *client.scan_iter(f"{key()}:runs:*"))
