"""The channel layer between two runs: emptied, whether it is Redis or the in-memory layer."""

import asyncio
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


async def close_connections(layer: RedisChannelLayer) -> None:
    """Close the connections ``layer`` holds on this event loop, with those to its sentinels, which channels-redis'
    ``close_pools`` leaves open."""
    loop_layer = layer._layers.get(asyncio.get_running_loop())
    for connection in loop_layer._connections.values() if loop_layer else ():
        manager = getattr(connection.connection_pool, "sentinel_manager", None)
        for client in manager.sentinels if manager else ():
            await client.aclose()
    await layer.close_pools()
