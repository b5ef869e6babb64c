"""The retry policy alone: pure functions, no database."""

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retry.policy import GiveUp, Retry, RetryPolicy, backoff_delay, decide, problems

bases = st.floats(min_value=0.01, max_value=100)
factors = st.floats(min_value=1.0, max_value=10)
jitters = st.floats(min_value=0.0, max_value=1.0)
retries = st.integers(min_value=1, max_value=200)


@st.composite
def policies(draw: st.DrawFn) -> RetryPolicy:
    base = draw(bases)
    return RetryPolicy(
        max_attempts=draw(st.integers(1, 20)),
        base_delay=base,
        factor=draw(factors),
        max_delay=draw(st.floats(min_value=base, max_value=10_000)),
        jitter=draw(jitters),
    )


def delay(policy: RetryPolicy, retry: int, rng: random.Random | None = None) -> float:
    return backoff_delay(
        retry,
        base_delay=policy.base_delay,
        factor=policy.factor,
        max_delay=policy.max_delay,
        jitter=policy.jitter,
        rng=rng,
    )


@given(policies(), retries, st.randoms(use_true_random=False))
def test_a_delay_never_falls_below_the_floor_nor_exceeds_the_cap(
    policy: RetryPolicy, retry: int, rng: random.Random
) -> None:
    assert policy.base_delay <= delay(policy, retry, rng) <= policy.max_delay


@given(policies(), retries)
def test_without_jitter_delays_grow_until_the_cap(policy: RetryPolicy, retry: int) -> None:
    steady = RetryPolicy(**{**policy.snapshot(), "jitter": 0.0})
    assert delay(steady, retry + 1) >= delay(steady, retry)
    assert delay(steady, retry) == min(policy.max_delay, policy.base_delay * policy.factor ** min(retry - 1, 64))


@given(policies(), retries, st.randoms(use_true_random=False))
def test_jitter_only_lengthens_a_delay_and_by_at_most_its_fraction(
    policy: RetryPolicy, retry: int, rng: random.Random
) -> None:
    steady = delay(RetryPolicy(**{**policy.snapshot(), "jitter": 0.0}), retry)
    jittered = delay(policy, retry, rng)
    assert steady <= jittered <= min(policy.max_delay, steady * (1 + policy.jitter)) + 1e-9


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        (1, 10),  # the floor: at least 10 s before the first retry
        (2, 20),
        (3, 40),
        (9, 2560),
        (10, 3600),  # capped at an hour
        (1000, 3600),  # huge exponents do not overflow
    ],
)
def test_the_default_schedule(retry: int, expected: int) -> None:
    assert delay(RetryPolicy(jitter=0.0), retry) == expected


def test_retries_count_from_one() -> None:
    with pytest.raises(ValueError, match="counts from 1"):
        delay(RetryPolicy(), 0)


class Temporary(Exception):
    pass


class Permanent(Exception):
    pass


@pytest.mark.parametrize(
    ("policy", "attempts", "error", "retried"),
    [
        (RetryPolicy(max_attempts=3), 1, ValueError(), True),  # any error is retried by default
        (RetryPolicy(max_attempts=3), 3, ValueError(), False),  # attempts ran out
        (RetryPolicy(give_up_on=(Permanent,)), 1, Permanent(), False),  # a listed permanent error
        (RetryPolicy(give_up_on=(Permanent,)), 1, Temporary(), True),  # other errors still retry
        (RetryPolicy(retry_on=(Temporary,)), 1, Temporary(), True),  # a listed temporary error
        (RetryPolicy(retry_on=(Temporary,)), 1, Permanent(), False),  # anything else gives up
        (RetryPolicy(), 1, GiveUp(), False),  # the task says so
        (RetryPolicy(max_attempts=2), 2, Retry(delay=5), False),  # a requested retry still counts
    ],
)
def test_decide(policy: RetryPolicy, attempts: int, error: BaseException, retried: bool) -> None:
    assert (decide(policy, attempts, error) is not None) is retried


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (120, 120),  # honoured
        (1, 10),  # never below the floor
        (999_999, 3600),  # never above the cap
    ],
)
def test_a_requested_retry_delay_is_honoured_within_floor_and_cap(requested: int, expected: int) -> None:
    decision = decide(RetryPolicy(), 1, Retry(delay=requested))
    assert decision is not None
    assert decision.delay == expected


def test_the_snapshot_holds_the_numbers_and_restores_them() -> None:
    policy = RetryPolicy(max_attempts=7, base_delay=12, give_up_on=(Permanent,))
    assert policy.snapshot() == {
        "max_attempts": 7,
        "base_delay": 12,
        "factor": 2.0,
        "max_delay": 3600.0,
        "jitter": 0.25,
    }
    restored = RetryPolicy(give_up_on=(Permanent,)).with_numbers({**policy.snapshot(), "unknown": 1, "factor": None})
    assert restored == policy
    assert restored.give_up_on == (Permanent,)


# The floor: no source of a policy may make retries come sooner than RETRY_MIN_DELAY, or break its numbers.
BROKEN = [
    # (numbers, the field at fault, what is said)
    ({"max_attempts": 0}, "max_attempts", "a whole number of at least 1, not 0"),
    ({"max_attempts": 2.5}, "max_attempts", "a whole number of at least 1, not 2.5"),
    ({"base_delay": 0}, "base_delay", "at least 10 s (the retry floor), not 0"),
    ({"base_delay": -5}, "base_delay", "at least 10 s (the retry floor), not -5"),
    ({"base_delay": 9.9}, "base_delay", "at least 10 s (the retry floor), not 9.9"),
    ({"base_delay": float("nan")}, "base_delay", "at least 10 s (the retry floor), not nan"),
    ({"factor": 0.5}, "factor", "a number of at least 1, not 0.5"),
    ({"max_delay": 5}, "max_delay", "at least the base delay (10 s), not 5"),
    ({"max_delay": float("inf")}, "max_delay", "at least the base delay (10 s), not inf"),
    ({"jitter": -1}, "jitter", "a fraction from 0 to 1, not -1"),
    ({"jitter": 2}, "jitter", "a fraction from 0 to 1, not 2"),
]


@pytest.mark.parametrize(("numbers", "field", "said"), BROKEN)
def test_a_broken_policy_is_named_field_by_field(numbers: dict[str, Any], field: str, said: str) -> None:
    assert problems(RetryPolicy(**{"base_delay": 10.0, **numbers}), floor=10.0) == {field: f"must be {said}"}


def test_a_sound_policy_has_no_problems_and_a_lower_floor_allows_shorter_delays() -> None:
    assert problems(RetryPolicy(), floor=10.0) == {}
    assert problems(RetryPolicy(base_delay=0.05, max_delay=0.5), floor=0.05) == {}
