"""Typed readers for settings that come from the environment."""

import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def read_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no or on/off.")


def read_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def read_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def read_ports(name: str, default: list[int]) -> list[int]:
    """Comma-separated TCP port numbers, each from 1 to 65535."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    ports = []
    for item in read_list(name, []):
        if not item.isdigit() or not 1 <= int(item) <= 65535:
            raise ImproperlyConfigured(f"{name} has {item!r}, which is not a port number from 1 to 65535.")
        ports.append(int(item))
    return ports


def read_redis_urls(name: str) -> list[str]:
    """Comma-separated redis:// or rediss:// URLs; each one is a shard of the channel layer."""
    urls = read_list(name, [])
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in {"redis", "rediss", "unix"} or not (parts.hostname or parts.path):
            raise ImproperlyConfigured(
                f"{name} has {url!r}, which is not a redis://host:port URL (several are separated by commas)."
            )
    return urls


def read_choice(name: str, default: str, choices: set[str]) -> str:
    raw = os.environ.get(name, default).strip().lower()
    if raw not in choices:
        raise ImproperlyConfigured(f"{name}={raw!r} must be one of: {', '.join(sorted(choices))}.")
    return raw
