"""What a delivery attempt's answer means for the webhook: delivered, retry (maybe after a delay), or give up."""

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from orders.webhooks import conf
from orders.webhooks.errors import DeliveryFailed, UnsafeURL, WebhookError


@dataclasses.dataclass(frozen=True)
class DeliveryOutcome:
    """The verdict on one delivery attempt; ``reason`` is what the delivery row records."""

    delivered: bool
    reason: str
    status: int | None = None
    permanent: bool = False
    #: The receiver said 410 Gone: switch the webhook off.
    disable: bool = False
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return not self.delivered and not self.permanent


def classify(
    status: int, headers: Mapping[str, str], *, now: datetime | None = None, max_retry_after: float | None = None
) -> DeliveryOutcome:
    """Return what a response status means: 2xx delivered; 429 and 5xx retry; 410 disables; the rest give up."""
    if 200 <= status < 300:
        return DeliveryOutcome(delivered=True, reason=f"{status}: delivered", status=status)
    if status == 410:
        reason = "410 Gone: the receiver asked to stop, the webhook is disabled"
        return DeliveryOutcome(delivered=False, reason=reason, status=status, permanent=True, disable=True)
    if status == 429 or 500 <= status < 600:
        wait = retry_after(headers, now, max_retry_after) if status in (429, 503) else None
        reason = f"{status}: the receiver failed or is busy, retry later"
        return DeliveryOutcome(delivered=False, reason=reason, status=status, retry_after=wait)
    if 300 <= status < 400:
        reason = f"{status}: a redirect, and redirects are not followed"
        return DeliveryOutcome(delivered=False, reason=reason, status=status, permanent=True)
    reason = f"{status}: the receiver refused the request"
    return DeliveryOutcome(delivered=False, reason=reason, status=status, permanent=True)


def classify_error(error: WebhookError) -> DeliveryOutcome:
    """Return the outcome of a delivery that got no response: a refused URL gives up, the rest retry."""
    if isinstance(error, UnsafeURL):
        return DeliveryOutcome(delivered=False, reason=f"unsafe URL: {error.reason}", permanent=True)
    if isinstance(error, DeliveryFailed):
        return DeliveryOutcome(delivered=False, reason=error.reason, status=error.status)
    return DeliveryOutcome(delivered=False, reason=str(error))


def retry_after(headers: Mapping[str, str], now: datetime | None, cap: float | None) -> float | None:
    """Return Retry-After in seconds (a number or an HTTP date), at most cap; None when absent or unreadable."""
    value = next((value for name, value in headers.items() if name.lower() == "retry-after"), "").strip()
    cap = conf.max_retry_after() if cap is None else cap
    if value.isascii() and value.isdigit():
        return min(float(value), cap)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), cap)
