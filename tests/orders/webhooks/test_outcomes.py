"""What a receiver's answer means for the delivery: pure, no server and no database."""

from datetime import UTC, datetime, timedelta

import pytest
from pytest_django import Settings

from orders.webhooks import outcomes
from orders.webhooks.errors import DeliveryFailed, UnsafeURL, WebhookError


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (200, {}, "delivered"),  # OK
        (204, {}, "delivered"),  # no content is fine too
        (301, {"Location": "http://10.0.0.1/"}, "permanent"),  # redirects are never followed
        (302, {}, "permanent"),
        (401, {}, "permanent"),  # the receiver rejects our signature: a configuration problem
        (404, {}, "permanent"),
        (410, {}, "disable"),  # the receiver asks us to stop
        (429, {}, "retry"),
        (500, {}, "retry"),
        (502, {}, "retry"),
        (599, {}, "retry"),
        (102, {}, "permanent"),  # not a final status: nothing sensible to retry
    ],
)
def test_classify_maps_each_status(status: int, headers: dict[str, str], expected: str) -> None:
    outcome = outcomes.classify(status, headers, max_retry_after=3600)

    kind = "delivered" if outcome.delivered else "disable" if outcome.disable else "retry"
    kind = "permanent" if outcome.permanent and not outcome.disable else kind
    assert kind == expected
    assert outcome.status == status


NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "value", "expected"),
    [
        (429, "120", 120.0),  # seconds
        (503, "0", 0.0),  # retry at once
        (429, "7200", 3600.0),  # capped
        (503, "Fri, 01 May 2026 12:05:00 GMT", 300.0),  # an HTTP date five minutes ahead
        (429, "Fri, 01 May 2026 11:00:00 GMT", 0.0),  # a date in the past means now
        (429, "Sat, 02 May 2026 12:00:00 GMT", 3600.0),  # a date a day ahead is capped
        (429, "soon", None),  # unreadable: the retry policy decides
        (429, "-5", None),  # negative seconds are not a Retry-After
        (500, "120", None),  # only 429 and 503 carry Retry-After
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date_and_capped(status: int, value: str, expected: float | None) -> None:
    outcome = outcomes.classify(status, {"Retry-After": value}, now=NOW, max_retry_after=3600)

    assert outcome.retryable
    assert outcome.retry_after == expected


def test_the_retry_after_cap_comes_from_the_setting(settings: Settings) -> None:
    settings.WEBHOOK_MAX_RETRY_AFTER = 60

    assert outcomes.classify(429, {"retry-after": "120"}).retry_after == 60.0
    later = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    wait = outcomes.classify(503, {"retry-after": later}).retry_after
    assert wait is not None
    assert 25 <= wait <= 30


@pytest.mark.parametrize(
    ("error", "retryable", "reason"),
    [
        (UnsafeURL("10.0.0.1 is a private address"), False, "unsafe URL: 10.0.0.1 is a private address"),
        (DeliveryFailed("timed out: no complete response within 10 s"), True, "timed out"),
        (WebhookError("something else"), True, "something else"),
    ],
)
def test_classify_error_gives_up_on_a_refused_url_and_retries_the_rest(
    error: DeliveryFailed | WebhookError | UnsafeURL, retryable: bool, reason: str
) -> None:
    outcome = outcomes.classify_error(error)

    assert not outcome.delivered
    assert outcome.retryable is retryable
    assert reason in outcome.reason
