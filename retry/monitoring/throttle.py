"""A token bucket: how many messages one websocket client may send, and how fast (the feed's, and a project's)."""

import time
from collections.abc import Callable


class TokenBucket:
    """Holds up to ``burst`` tokens and gains ``rate`` per second; each action takes one."""

    def __init__(self, burst: int, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.rate = rate
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()

    def take(self) -> bool:
        """Take a token; False when the bucket is empty."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
