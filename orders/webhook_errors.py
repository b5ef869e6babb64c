"""Errors of customer webhook delivery."""

from orders.exceptions import OrderError


class WebhookError(OrderError):
    """Root of the webhook errors. Do not raise directly."""


class UnsafeURL(WebhookError):
    """Raised when a webhook URL or one of its addresses is refused by the SSRF guard; never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeliveryFailed(WebhookError):
    """Raised when a delivery did not succeed; its fields tell the retry policy what to do."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
        disable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        #: HTTP status of the response, or None when no response came (connection error, timeout).
        self.status = status
        #: Seconds the receiver asked us to wait (Retry-After), already capped.
        self.retry_after = retry_after
        #: True when retrying cannot help (4xx other than 429, 3xx, refused URL).
        self.permanent = permanent
        #: True when the receiver said 410 Gone: the order's webhook is switched off.
        self.disable = disable


class InvalidSignature(WebhookError):
    """Raised by signing.verify when a request's signature or timestamp does not check out."""
