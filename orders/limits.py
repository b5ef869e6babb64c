"""How many orders one client address and one e-mail address may place per window, counted in Django's cache."""

import dataclasses
import hashlib
import time

from django.conf import settings
from django.core.cache import cache

#: Orders one client address may place per window.
DEFAULT_PER_ADDRESS = 20
#: Orders one e-mail address may receive per window: each order sends it an e-mail.
DEFAULT_PER_EMAIL = 5
#: Seconds of a window.
DEFAULT_WINDOW = 3600


@dataclasses.dataclass(frozen=True)
class Refusal:
    """Why an order was not placed, and when the client may try again."""

    message: str
    retry_after: int


def take_order_slot(address: str, email: str, now: float | None = None) -> Refusal | None:
    """Count one order for the client address and the e-mail address; a Refusal when either is over its limit."""
    window = setting("ORDER_RATE_LIMIT_WINDOW", DEFAULT_WINDOW)
    now = time.time() if now is None else now
    start = int(now // window) * window
    retry_after = max(start + window - int(now), 1)
    limits = [
        ("address", address, setting("ORDER_RATE_LIMIT_PER_ADDRESS", DEFAULT_PER_ADDRESS)),
        ("e-mail address", email.strip().lower(), setting("ORDER_RATE_LIMIT_PER_EMAIL", DEFAULT_PER_EMAIL)),
    ]
    for name, value, limit in limits:
        if count(f"orders:rate:{digest(f'{name}:{value}')}:{start}", window) > limit:
            message = f"Too many orders from this {name}: at most {limit} in {window} s. Try again later."
            return Refusal(message, retry_after)
    return None


def setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def count(key: str, window: int) -> int:
    """Add one to the window's counter and return it; the counter lives as long as its window."""
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return 1


def digest(value: str) -> str:
    """Keys name no address: the cache holds a hash of each."""
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]
