"""The token bucket behind the boards' rate limit: pure, with a clock the test moves."""

from retry.monitoring.throttle import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_a_burst_then_refuses() -> None:
    bucket = TokenBucket(3, 1.0, clock=Clock())
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(2, 4.0, clock=clock)
    bucket.take(), bucket.take()
    clock.now += 0.25
    assert bucket.take() is True
    assert bucket.take() is False
    clock.now += 60
    assert [bucket.take() for _ in range(3)] == [True, True, False]
