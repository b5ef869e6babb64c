"""Webhook settings, read lazily from django.conf.settings with their defaults."""

import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from orders.webhooks import signing

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Ports a webhook URL may name.
DEFAULT_ALLOWED_PORTS = (80, 443, 8080, 8443)
#: Total seconds for one delivery: connect, send and read together.
DEFAULT_TIMEOUT = 10.0
#: Bytes of a receiver's response kept; the rest is never read.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024
#: Longest Retry-After, in seconds, a receiver can ask for.
DEFAULT_MAX_RETRY_AFTER = 3600.0


def allowed_ports() -> frozenset[int]:
    """Return WEBHOOK_ALLOWED_PORTS."""
    return frozenset(int(port) for port in getattr(settings, "WEBHOOK_ALLOWED_PORTS", DEFAULT_ALLOWED_PORTS))


def allowed_networks() -> tuple[Network, ...]:
    """Return WEBHOOK_ALLOWED_NETWORKS: networks reachable even though they are not global (local development)."""
    networks = []
    for cidr in getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", ()):
        try:
            networks.append(ipaddress.ip_network(cidr))
        except ValueError as error:
            raise ImproperlyConfigured(f"WEBHOOK_ALLOWED_NETWORKS has {cidr!r}: {error}") from None
    return tuple(networks)


def secrets() -> list[signing.SigningKey]:
    """Return the keys of WEBHOOK_SECRETS, the current one first."""
    raw = list(getattr(settings, "WEBHOOK_SECRETS", ()))
    if not raw:
        raise ImproperlyConfigured("WEBHOOK_SECRETS is empty: set at least one secret to sign webhooks.")
    keys = []
    for index, secret in enumerate(raw):
        try:
            keys.append(signing.SigningKey(secret))
        except ValueError as error:
            # The message names the position only: a secret never appears in an error.
            raise ImproperlyConfigured(f"WEBHOOK_SECRETS[{index}]: {error}") from None
    return keys


def timeout() -> float:
    """Return WEBHOOK_TIMEOUT, the total deadline of one delivery in seconds."""
    return float(getattr(settings, "WEBHOOK_TIMEOUT", DEFAULT_TIMEOUT))


def max_response_bytes() -> int:
    """Return WEBHOOK_MAX_RESPONSE_BYTES."""
    return int(getattr(settings, "WEBHOOK_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES))


def max_retry_after() -> float:
    """Return WEBHOOK_MAX_RETRY_AFTER in seconds."""
    return float(getattr(settings, "WEBHOOK_MAX_RETRY_AFTER", DEFAULT_MAX_RETRY_AFTER))
