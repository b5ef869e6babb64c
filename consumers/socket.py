"""What every websocket of the project shares: who may use it, read again on each client message and each push;
how client frames are read, refused and rate limited; and closing with codes daphne can send (1000, 3000-4999)."""

import asyncio
import time
from collections.abc import Collection
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from consumers import access, protocol, reads, relay, relayed
from retry.monitoring import frames
from retry.monitoring.throttle import TokenBucket

#: Refused actions in a row after which a flooding client is disconnected.
FLOOD_LIMIT = 30
#: What a client is told, by close code, when its access ended while it was connected.
ACCESS_LOST = {
    protocol.NOT_LOGGED_IN: "Your session has ended; log in again.",
    protocol.NOT_ALLOWED: "Your account may no longer use this; log in again once you have the access.",
}


class GuardedSocket(relayed.RelayedConsumer, AsyncJsonWebsocketConsumer):
    """A socket whose subclasses name the messages it takes and who may use it, and handle each message."""

    #: The client messages the socket takes, each with the id field it needs (protocol.parse).
    actions: dict[str, str | None] = {}
    #: What a user needs to use the socket: active staff with these permissions; None for a public socket.
    permissions: tuple[str, ...] | None = None
    #: Who each session belongs to now; sockets of one session whose checks coincide share one read.
    session_reads = reads.SharedReads(access.session_user)
    closed = False
    user: Any = None

    async def handle(self, action: protocol.Action) -> None:
        """Answer a valid client message (the user's access was just read again)."""

    @classmethod
    def access_reads(cls, after: reads.Read, inboxes: Collection[relay.Inbox]) -> list[asyncio.Future[Any]]:
        """A read of each session of this kind's sockets among ``inboxes``, to begin after ``after`` (a card read):
        what their pushes of that card check is then read already."""
        if cls.permissions is None:
            return []
        keys = {getattr(inbox.owner, "session_key", None) for inbox in inboxes if isinstance(inbox.owner, cls)}
        return [cls.session_reads.read_after(after, key).future for key in keys if key is not None]

    async def admit(self) -> bool:
        """Accept the connection, then close it with the code that says why the user may not use the socket."""
        self.bucket = TokenBucket(*settings.BOARD_RATE_LIMIT)
        self.refused = 0
        # When the latest session read began.
        self.checked = float("-inf")
        await self.accept()
        if self.permissions is not None:
            self.session_key = self.scope["session"].session_key
        return await self.allowed(time.monotonic())

    async def allowed(self, since: float, action: protocol.Action | None = None, answer: bool = False) -> bool:
        """Whether the user may still use the socket, by a session read begun at ``since`` or later.

        When not, the socket closes with the code that says why; ``answer`` sends an "access_lost" error first.
        """
        if self.closed:
            return False
        if self.permissions is None or self.checked >= since:
            return True
        self.checked, self.user = await self.session_reads.since(since, self.session_key)
        code = access.refusal(self.user, self.permissions)
        if code is None:
            return True
        if answer:
            await self.send_json(protocol.error("access_lost", ACCESS_LOST[code], action))
        await self.close(code)
        return False

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self.closed:
            return
        if not self.bucket.take():
            await self.slow_down()
            return
        self.refused = 0
        action, problem = None, None
        try:
            action = protocol.parse(text_data, self.actions)
        except frames.FrameError as error:
            problem = error
        if not await self.allowed(time.monotonic(), action, answer=True):
            return
        if action is not None:
            await self.handle(action)
        elif problem is not None:
            await self.refuse(problem)

    async def refuse(self, problem: frames.FrameError) -> None:
        await self.send_json(protocol.error(problem.code, problem.message))
        if problem.code == "too_large":
            await self.close(protocol.TOO_LARGE)

    async def slow_down(self) -> None:
        self.refused += 1
        if self.refused > FLOOD_LIMIT:
            await self.close(protocol.FLOODING)
            return
        await self.send_json(protocol.error("rate_limited", "Too many messages; wait a moment and try again."))

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        self.closed = True
        await super().close(code, reason)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        await self.stop_listening()
