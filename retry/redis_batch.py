"""Many messages to one channel of Channels' Redis layer in one round trip.

channels_redis' ``send`` costs four commands per message: drop the channel's expired messages, count it
against the capacity, ZADD the message, EXPIRE the key. SCRIPT does the same for a whole batch in one atomic
call, with the layer's own serializer, key name, capacity and expiry, so its receivers read these messages as
their own. Messages past the channel's capacity are refused, as ``send`` refuses them with ChannelFull.
"""

import itertools
import math
import time
from typing import Any

try:
    from channels_redis.core import RedisChannelLayer
except ImportError:  # the Redis layer is optional: without it every message goes through ``layer.send``
    RedisChannelLayer = None

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

_hosts = itertools.count()
_last_score = [0.0]


def supports(layer: Any, channel: str) -> bool:
    """True for a general channel (no ``!``) of a layer that sends as channels_redis' RedisChannelLayer does."""
    return RedisChannelLayer is not None and type(layer).send is RedisChannelLayer.send and "!" not in channel


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
