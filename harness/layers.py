"""The channel layer between two runs: emptied, whether it is Redis or the in-memory layer."""

from typing import cast

import redis
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer


def flush_channel_layer() -> None:
    """Empty the default channel layer: its keys on Redis (pools stay open), or the in-memory queues."""
    layer = get_channel_layer()
    if isinstance(layer, RedisChannelLayer):
        for host in layer.hosts:
            client = redis.Redis.from_url(host["address"])
            keys = list(client.scan_iter(f"{layer.prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()
    else:
        memory = cast(InMemoryChannelLayer, layer)
        memory.channels.clear()
        memory.groups.clear()
