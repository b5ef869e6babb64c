"""Field validators of the orders domain."""

from urllib.parse import SplitResult, urlsplit

from django.core.exceptions import ValidationError

WEBHOOK_SCHEMES = {"http", "https"}
# Ports below 1024 reach system services (SMTP, SSH, ...); only the web's own two are allowed.
WEBHOOK_LOW_PORTS = {80, 443}


def validate_webhook_url(value: str) -> None:
    """Refuse webhook URLs that are not plain http(s) to a named host on a web port."""
    parts = urlsplit(value)
    if parts.scheme.lower() not in WEBHOOK_SCHEMES:
        raise ValidationError("The webhook URL must start with http:// or https://.", code="webhook_scheme")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("The webhook URL must not contain a user name or password.", code="webhook_credentials")
    if not parts.hostname:
        raise ValidationError("The webhook URL must name a host.", code="webhook_host")
    validate_webhook_port(parts)


def validate_webhook_port(parts: SplitResult) -> None:
    try:
        port = parts.port
    except ValueError:
        raise ValidationError("The webhook URL has an invalid port.", code="webhook_port") from None
    if port is not None and port < 1024 and port not in WEBHOOK_LOW_PORTS:
        raise ValidationError(
            f"The webhook URL may use port 80, 443 or 1024 and above, not {port}.", code="webhook_port"
        )
