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
    """Raised when a delivery got no usable answer (connection error, timeout, malformed response) or failed;
    retried by the task's policy."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        #: HTTP status of the response, or None when no response came (connection error, timeout).
        self.status = status


class InvalidSignature(WebhookError):
    """Raised by signing.verify when a request's signature or timestamp does not check out."""
