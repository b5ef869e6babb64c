"""Two throwaway Redis shards behind one channel layer, for the tests of a shard that restarts empty."""

import asyncio
from dataclasses import dataclass
from typing import Any

import redis.exceptions
from channels_redis.core import RedisChannelLayer

from tests import processes


@dataclass
class Shards:
    layer: RedisChannelLayer
    servers: list[processes.Process]
    ports: list[int]

    async def group_apart(self, prefix: str) -> str:
        """A group name that lives on another shard than the one this process reads its channels from."""
        read_from = self.layer.consistent_hash((await self.layer.new_channel()).split("!")[0] + "!")
        return next(f"{prefix}.{n}" for n in range(100) if self.layer.consistent_hash(f"{prefix}.{n}") != read_from)

    async def restart_shard_of(self, group: str) -> None:
        """Kill the shard that holds ``group`` (it keeps nothing on disk: it forgets the group) and start it again."""
        shard = self.layer.consistent_hash(group)
        self.servers[shard].kill()
        self.servers[shard].start()
        await asyncio.to_thread(processes.wait_until_listening, self.ports[shard])

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        try:
            await self.layer.group_send(group, message)
        except redis.exceptions.ConnectionError:  # the sender's pooled connection to the restarted shard fails once
            await self.layer.group_send(group, message)
