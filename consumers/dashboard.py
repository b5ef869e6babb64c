"""The task dashboard's live feed: fresh figures for staff whenever a task changes, a few times a second at most."""

import asyncio
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from consumers import relay
from retry import conf, stats

VERSION = 1
#: Close code for a connection that is not an active staff member allowed to view tasks.
NOT_ALLOWED = 4403


def may_watch(user: Any) -> bool:
    return bool(user and user.is_active and user.is_staff and user.has_perm("retry.view_taskrecord"))


def figures() -> dict[str, Any]:
    return stats.snapshot().as_dict()


class DashboardConsumer(relay.RelayedConsumer, AsyncJsonWebsocketConsumer):
    """Sends {"type": "dashboard.figures", "version": 1, "figures": {...}} on connect, after task changes and on
    {"type": "refresh"}; changes arriving close together share one push."""

    #: Seconds between two pushes, at least.
    min_interval = 0.25

    async def connect(self) -> None:
        self.last_push = float("-inf")
        self.pending: asyncio.Future[None] | None = None
        if not await database_sync_to_async(may_watch)(self.scope.get("user")):
            await self.close(code=NOT_ALLOWED)
            return
        await self.listen((conf.get().EVENTS_GROUP,))
        await self.accept()
        await self.push()

    async def disconnect(self, code: int) -> None:
        if self.pending is not None:
            self.pending.cancel()
        await self.stop_listening()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "refresh":
            self.schedule()

    async def task_changed(self, event: dict[str, Any]) -> None:
        """A task changed state somewhere (retry.events): send fresh figures soon."""
        self.schedule()

    # Tasks changed state (retry.events publishes the events of one moment together), or the channel layer is
    # back after a failure and changes may have gone unannounced meanwhile: the same, fresh figures soon.
    task_changes = relay_resumed = task_changed

    def schedule(self) -> None:
        if self.pending is not None and not self.pending.done():
            return  # the push already planned reads the database after this change
        delay = max(0.0, self.last_push + self.min_interval - time.monotonic())
        self.pending = asyncio.ensure_future(self.push_after(delay))

    async def push_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.pending = None  # a change from now on needs a push of its own
        await self.push()

    async def push(self) -> None:
        self.last_push = time.monotonic()
        current = await database_sync_to_async(figures)()
        await self.send_json({"type": "dashboard.figures", "version": VERSION, "figures": current})
