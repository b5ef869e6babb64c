"""The task dashboard's live feed: fresh figures for staff whenever a task changes, a few times a second at most."""

import asyncio
import time
from typing import Any

from channels.db import database_sync_to_async

from consumers import protocol
from consumers.socket import GuardedSocket
from retry import conf
from retry.monitoring import stats


def figures() -> dict[str, Any]:
    return stats.snapshot().as_dict()


class DashboardConsumer(GuardedSocket):
    """Sends {"type": "dashboard.figures", "version": 1, "figures": {...}} on connect, after task changes and on
    {"type": "refresh", "version": 1}; changes arriving close together share one push. Active staff allowed to
    view tasks only, read again before every push and on every message."""

    actions = protocol.DASHBOARD_ACTIONS
    permissions = ("retry.view_taskrecord",)
    #: Seconds between two pushes, at least.
    min_interval = 0.25

    async def connect(self) -> None:
        self.last_push = float("-inf")
        self.pending: asyncio.Future[None] | None = None
        if not await self.admit():
            return
        await self.listen((conf.get().EVENTS_GROUP,))
        await self.push()

    async def disconnect(self, code: int) -> None:
        if self.pending is not None:
            self.pending.cancel()
        await super().disconnect(code)

    async def handle(self, action: protocol.Action) -> None:
        self.schedule()

    async def task_changed(self, event: dict[str, Any]) -> None:
        """A task changed state somewhere (retry.events): send fresh figures soon."""
        self.schedule()

    # Tasks changed state (retry.events publishes the events of one moment together), or the channel layer is
    # back after a failure and changes may have gone unannounced meanwhile: the same, fresh figures soon.
    task_changes = relay_resumed = task_changed

    def schedule(self) -> None:
        if self.closed or (self.pending is not None and not self.pending.done()):
            return  # the push already planned reads the database after this change
        delay = max(0.0, self.last_push + self.min_interval - time.monotonic())
        self.pending = asyncio.ensure_future(self.push_after(delay))

    async def push_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.pending = None  # a change from now on needs a push of its own
        await self.push()

    async def push(self) -> None:
        self.last_push = time.monotonic()
        if not await self.allowed(self.last_push):
            return
        current = await database_sync_to_async(figures)()
        if not self.closed:
            await self.send_json(protocol.message("dashboard.figures", figures=current))
