"""Dramatiq's Redis broker on the throwaway Redis, its default middleware, and the same task."""

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from benchmarks import proof

broker = RedisBroker(url=os.environ.get("BENCH_DRAMATIQ_URL", "redis://127.0.0.1:6379/13"))
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name="bench_touch")  # type: ignore[untyped-decorator]  # read as untyped (pyproject.toml)
def touch(number: int) -> None:
    proof.mark(number)
