"""Field validators of the orders domain."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from orders.webhooks import ssrf
from orders.webhooks.errors import UnsafeURL

WEBHOOK_SCHEMES = {"http", "https"}


def validate_webhook_url(value: str) -> None:
    """Refuse webhook URLs the SSRF guard would refuse at delivery time, before any name is resolved."""
    parts = urlsplit(value)
    if parts.scheme.lower() not in WEBHOOK_SCHEMES:
        raise ValidationError("The webhook URL must start with http:// or https://.", code="webhook_scheme")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("The webhook URL must not contain a user name or password.", code="webhook_credentials")
    if not parts.hostname:
        raise ValidationError("The webhook URL must name a host.", code="webhook_host")
    validate_webhook_port(value)
    try:
        ssrf.check_url(value)
    except UnsafeURL as error:
        raise ValidationError(f"The webhook URL is not allowed: {error.reason}.", code="webhook_unsafe") from None


def validate_webhook_port(value: str) -> None:
    """Apply the delivery's port allow-list (WEBHOOK_ALLOWED_PORTS), so save time and delivery time agree."""
    parts = urlsplit(value)
    try:
        port = parts.port or ssrf.DEFAULT_PORTS[parts.scheme.lower()]
    except ValueError:
        raise ValidationError("The webhook URL has an invalid port.", code="webhook_port") from None
    try:
        ssrf.check_port(port)
    except UnsafeURL as error:
        raise ValidationError(f"The webhook URL is not allowed: {error.reason}.", code="webhook_port") from None
