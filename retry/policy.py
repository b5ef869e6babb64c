"""Retry policies: when a failed attempt is tried again, and after how long. Pure: no Django, no database.

The delay before retry n (n = 1 after the first failed attempt) is::

    delay(n) = min(max_delay, base_delay * factor ** (n - 1)) * (1 + U(0, jitter)), capped at max_delay

so it never falls below ``base_delay`` (the floor), grows geometrically and never exceeds ``max_delay``.
Jitter only lengthens a delay, spreading retries of tasks that failed together.
"""

import math
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


class Retry(Exception):
    """Raised by a task to be retried after ``delay`` seconds (e.g. an HTTP 429's Retry-After).

    It still counts as an attempt, and waits at least the policy's floor and at most its cap.
    """

    def __init__(self, delay: float, reason: str = "") -> None:
        super().__init__(reason or f"retry requested in {delay:g} s")
        self.delay = delay


class GiveUp(Exception):
    """Raised by a task that must not be retried: it ends FAILED at once."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often a task is tried and how long it waits in between."""

    max_attempts: int = 5
    base_delay: float = 10.0
    factor: float = 2.0
    max_delay: float = 3600.0
    jitter: float = 0.25
    #: Exception classes worth a retry; empty means every exception but those in ``give_up_on``.
    retry_on: tuple[type[BaseException], ...] = field(default=(), compare=False)
    #: Exception classes that end the task at once.
    give_up_on: tuple[type[BaseException], ...] = field(default=(), compare=False)

    def snapshot(self) -> dict[str, Any]:
        """The numbers of the policy, as stored on each task row."""
        numbers = asdict(self)
        del numbers["retry_on"], numbers["give_up_on"]
        return numbers

    def with_numbers(self, numbers: Mapping[str, Any]) -> "RetryPolicy":
        """A copy with the numbers of a snapshot or an override; unknown or empty keys are ignored."""
        known = {k: v for k, v in numbers.items() if k in NUMBER_FIELDS and v is not None}
        return RetryPolicy(**{**asdict(self), **known, "retry_on": self.retry_on, "give_up_on": self.give_up_on})


NUMBER_FIELDS = frozenset(RetryPolicy().snapshot())


def problems(policy: RetryPolicy, *, floor: float) -> dict[str, str]:
    """What in ``policy`` cannot work, by field; empty when nothing. ``floor``: the shortest retry delay allowed."""
    found = {}
    attempts = policy.max_attempts
    if not _is_number(attempts) or attempts != int(attempts) or attempts < 1:
        found["max_attempts"] = f"must be a whole number of at least 1, not {attempts!r}"
    if not (_is_number(policy.base_delay) and policy.base_delay >= floor):
        found["base_delay"] = f"must be at least {floor:g} s (the retry floor), not {policy.base_delay!r}"
    if not (_is_number(policy.factor) and policy.factor >= 1):
        found["factor"] = f"must be a number of at least 1, not {policy.factor!r}"
    base = policy.base_delay if "base_delay" not in found else floor
    if not (_is_number(policy.max_delay) and policy.max_delay >= base):
        found["max_delay"] = f"must be at least the base delay ({base:g} s), not {policy.max_delay!r}"
    if not (_is_number(policy.jitter) and 0 <= policy.jitter <= 1):
        found["jitter"] = f"must be a fraction from 0 to 1, not {policy.jitter!r}"
    return found


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class RetryDecision:
    """Try again after ``delay`` seconds."""

    delay: float
    reason: str


def backoff_delay(
    retry: int, *, base_delay: float, factor: float, max_delay: float, jitter: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
    if retry < 1:
        raise ValueError("retry counts from 1")
    exponent = min(retry - 1, 64)  # 2**64 seconds is past any cap; larger exponents only overflow
    delay = min(max_delay, base_delay * factor**exponent)
    spread = (rng or random).uniform(0, jitter) if jitter > 0 else 0.0
    return min(max_delay, delay * (1 + spread))


def decide(
    policy: RetryPolicy, attempts: int, error: BaseException, *, rng: random.Random | None = None
) -> RetryDecision | None:
    """Whether a task that failed its ``attempts``-th attempt with ``error`` is tried again, and when.

    Returns None to give up.
    """
    if attempts >= policy.max_attempts or isinstance(error, GiveUp):
        return None
    if isinstance(error, Retry):
        delay = min(max(error.delay, policy.base_delay), policy.max_delay)
        return RetryDecision(delay=delay, reason="requested by the task")
    if policy.give_up_on and isinstance(error, policy.give_up_on):
        return None
    if policy.retry_on and not isinstance(error, policy.retry_on):
        return None
    delay = backoff_delay(
        attempts,
        base_delay=policy.base_delay,
        factor=policy.factor,
        max_delay=policy.max_delay,
        jitter=policy.jitter,
        rng=rng,
    )
    return RetryDecision(delay=delay, reason="backoff")
