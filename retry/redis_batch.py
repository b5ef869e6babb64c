"""Many messages to one channel of Channels' Redis layer in one round trip.

channels_redis' ``send`` costs four commands per message: drop the channel's expired messages, count it
against the capacity, ZADD the message, EXPIRE the key. SCRIPT does the same for a whole batch in one atomic
call, with the layer's own serializer, key name, capacity and expiry, so its receivers read these messages as
their own. Messages past the channel's capacity are refused, as ``send`` refuses them with ChannelFull.

That leans on internals of channels-redis (``connection()``, ``ring_size``, the key name, the score, the
serializer), verified for the releases in VERIFIED by a canary test on a real Redis. With another release, or
a layer that lacks one of them, ``usable`` says no, once per layer and with a warning, and the outbox sends
through the layer's public ``send``, one message at a time; the system check retry.W001 says so at start.
"""

import importlib.metadata
import itertools
import logging
import math
import threading
import time
import weakref
from typing import Any

try:
    from channels_redis.core import RedisChannelLayer
except ImportError:  # the Redis layer is optional: without it every message goes through ``layer.send``
    RedisChannelLayer = None

logger = logging.getLogger("retry.redis_batch")

#: ARGV: the score messages expire below, the capacity, the expiry in seconds, then score and message pairs.
SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
local room = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
local added = 0
for i = 4, #ARGV, 2 do
    if added >= room then break end
    redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
    added = added + 1
end
if added > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return added
"""
#: Messages in one script call: Redis serves no one else while a call runs.
MAX_BATCH = 500
#: The channels-redis release series (major.minor) the batch send was verified with.
VERIFIED = ("4.2", "4.3")
#: What the batch send uses of RedisChannelLayer: methods of the class, attributes of each layer.
METHODS = ("connection", "serialize", "get_capacity", "require_valid_channel_name")
ATTRIBUTES = ("ring_size", "prefix", "expiry")

_hosts = itertools.count()
_last_score = [0.0]
_usable: "weakref.WeakKeyDictionary[Any, bool]" = weakref.WeakKeyDictionary()
_deciding = threading.Lock()


def installed_version() -> str | None:
    """The installed channels-redis release, or None."""
    try:
        return importlib.metadata.version("channels-redis")
    except importlib.metadata.PackageNotFoundError:
        return None


def sends_as_redis(layer_class: type) -> bool:
    """Whether ``layer_class`` sends as channels_redis' RedisChannelLayer does (the class or a subclass that keeps
    its ``send``): the layers the batch send would serve."""
    return RedisChannelLayer is not None and getattr(layer_class, "send", None) is RedisChannelLayer.send


def unsupported(layer: Any = None) -> str | None:
    """Why the batch send cannot serve the installed channels-redis (and ``layer``, if given); None if it can."""
    version = installed_version()
    if RedisChannelLayer is None or version is None:
        return "channels-redis is not installed"
    if ".".join(version.split(".")[:2]) not in VERIFIED:
        verified = ", ".join(f"{series}.x" for series in VERIFIED)
        return f"channels-redis {version} is not a release the batched task send was verified with ({verified})"
    missing = [f"RedisChannelLayer.{name}" for name in METHODS if not callable(getattr(RedisChannelLayer, name, None))]
    if layer is not None:
        missing += [f"the layer's {name}" for name in ATTRIBUTES if not hasattr(layer, name)]
    if missing:
        return f"channels-redis {version} lacks {', '.join(missing)}, which the batched task send needs"
    return None


def usable(layer: Any) -> bool:
    """Whether the batch send serves ``layer``: decided once per layer, with a warning when it cannot."""
    try:
        with _deciding:
            decided = _usable.get(layer)
            if decided is None:
                decided = _usable[layer] = _decide(layer)
    except TypeError:  # a layer that cannot be weakly referenced is none of channels-redis': nothing to warn about
        return _decide(layer)
    return decided


def _decide(layer: Any) -> bool:
    if not sends_as_redis(type(layer)):
        return False  # another layer: its public send is the only way, nothing to warn about
    problem = unsupported(layer)
    if problem is not None:
        logger.warning("Task messages go through the channel layer's send, one at a time", extra={"reason": problem})
    return problem is None


def supports(layer: Any, channel: str) -> bool:
    """True for a general channel (no ``!``) of a layer the batch send serves."""
    return "!" not in channel and usable(layer)


async def send_many(layer: Any, channel: str, messages: list[dict[str, Any]]) -> int:
    """Add ``messages`` to ``channel`` in their order; returns how many fit (the first ones)."""
    layer.require_valid_channel_name(channel)
    expiry = int(layer.expiry)
    arguments: list[Any] = [int(time.time()) - expiry, layer.get_capacity(channel), expiry]
    for message, score in zip(messages, scores(len(messages)), strict=True):
        arguments += (score, layer.serialize(message))
    # A general channel may live on any host: the layer's receivers poll each host in turn.
    connection = layer.connection(next(_hosts) % layer.ring_size)
    return int(await connection.eval(SCRIPT, 1, layer.prefix + channel, *arguments))


def scores(count: int) -> list[float]:
    """Send times that only grow within the process, so a channel hands messages out in the order sent."""
    score = max(time.time(), _last_score[0])
    taken = []
    for _ in range(count):
        score = math.nextafter(score, math.inf)
        taken.append(score)
    _last_score[0] = score
    return taken
