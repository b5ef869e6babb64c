"""The task dashboard's live feed: fresh figures for staff whenever tasks change, a few times a second at most.

The feed sends {"type": "dashboard.figures", "version": 1, "figures": {...}} on connect, after task changes (the
EVENTS_GROUP events) and on {"type": "refresh", "version": 1}; changes close together share one push. Only
active staff allowed to view tasks may watch, read again from the session before every push and on every client
message; an "act" request starts a batch action for an operator, on a socket opened from the site's own pages,
and gets a "forbidden" error for anyone else (retry.monitoring.access). The client's frames, the group's events
and the feed's own timer reach one inbox and are handled in turn; a channel layer that fails only delays the
events (retry.monitoring.subscription).
"""

import asyncio
import logging
import time
from importlib import import_module
from types import SimpleNamespace
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib import auth
from django.db import DatabaseError

from retry import conf
from retry.monitoring import access, batches, frames, search, stats
from retry.monitoring.subscription import RESUMED, Subscription
from retry.monitoring.throttle import TokenBucket

logger = logging.getLogger("retry.monitoring.feed")

#: Group events waiting in one feed's inbox at most; later ones are dropped, as a full channel drops them.
INBOX_CAPACITY = 100
#: The feed's own message: the push it planned is due.
PUSH = "feed.push"
#: The layer's messages a feed takes: task changes (retry.events), and the layer back after a failure.
EVENTS = frozenset({"task.changed", "task.changes", RESUMED})
#: Every message a feed handles; any other type is dropped, never looked up as a method.
HANDLED = EVENTS | {"websocket.connect", "websocket.receive", "websocket.disconnect", PUSH}
#: What a client is told, by close code, when its access ended while it was connected.
ACCESS_LOST = {
    frames.NOT_LOGGED_IN: "Your session has ended; log in again.",
    frames.NOT_ALLOWED: "Your account may no longer watch tasks; log in again once it may.",
}
#: Feeds whose group membership is still being left after they ended without their disconnect handler.
leaving: set[asyncio.Future[None]] = set()


def session_user(session_key: str | None) -> Any:
    """The user the session belongs to now, permissions loaded; AnonymousUser once it ended or was deactivated."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    # auth.get_user reads only request.session, so a namespace holding the store stands in for the request.
    user = auth.get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]
    if user.is_authenticated and user.is_active:
        user.get_all_permissions()  # cached on the user: has_perms needs no query from here on
    return user


def refusal(user: Any) -> int | None:
    """The close code that keeps ``user`` off the feed; None lets them watch."""
    if not user.is_authenticated or not user.is_active:
        return frames.NOT_LOGGED_IN
    if not access.can_view(user):
        return frames.NOT_ALLOWED
    return None


def act(session_key: str | None, scope: Any, request: frames.Request) -> dict[str, Any]:
    """Start the batch action an "act" request asks for, if an operator asks from the site's pages; the reply."""
    user = session_user(session_key)
    if not access.can_operate(user) or not access.same_origin(scope):
        text = "Only operators who may change tasks can act on them, from the site's own pages."
        return frames.error("forbidden", text, request)
    try:
        entry = batches.start(request.action, search.read(request.filter), user.get_username())
    except ValueError as error:
        return frames.error("bad_field", str(error), request)
    return frames.message("batch.started", ref=request.ref, batch=entry.pk, action=entry.action, total=entry.total)


def figures() -> dict[str, Any]:
    return stats.snapshot().as_dict()


class TaskFeedConsumer(AsyncJsonWebsocketConsumer):
    """One client of the feed; route it behind AuthMiddlewareStack (retry.routing)."""

    #: Seconds between two pushes, at least.
    min_interval = 0.25
    #: Requests a client may send at once, and per second after that.
    burst, rate = 10, 5.0
    #: Refused requests in a row after which a flooding client is disconnected.
    flood_limit = 30
    #: Seconds before a feed whose database read failed reads again.
    retry_after = 2.0

    closed = False
    subscription: Subscription | None = None
    timer: asyncio.TimerHandle | None = None
    #: Subscribed and sent its first figures; until then a retried read starts again with the access check.
    watching = False
    #: The last database read failed (the warning is logged once an outage).
    failing = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Channels' own __call__ receives from the layer in the dispatch loop: a failing layer would end the feed.
        self.scope = scope
        self.layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        client = asyncio.ensure_future(self.forward(receive))
        try:
            while True:
                message = await self.inbox.get()
                if isinstance(message, BaseException):
                    raise message
                await self.dispatch(message)
        except StopConsumer:
            pass
        finally:
            client.cancel()
            await asyncio.gather(client, return_exceptions=True)
            self.end()

    async def forward(self, receive: Any) -> None:
        """Put each message of the client in the inbox, and the error if receiving fails."""
        try:
            while True:
                self.inbox.put_nowait(await receive())
        except Exception as error:
            self.inbox.put_nowait(error)

    def post(self, message: dict[str, Any]) -> None:
        """Hand one of the layer's EVENTS to the inbox; a full inbox drops it, so a stuck feed holds no memory."""
        if isinstance(message, dict) and message.get("type") in EVENTS and self.inbox.qsize() < INBOX_CAPACITY:
            self.inbox.put_nowait(message)

    async def dispatch(self, message: Any) -> None:
        if isinstance(message, dict) and message.get("type") in HANDLED:
            try:
                await super().dispatch(message)
            except DatabaseError as error:
                await self.database_failed(error)

    async def database_failed(self, error: DatabaseError) -> None:
        """The session or the figures could not be read: the client is told, and the feed reads again soon."""
        (logger.debug if self.failing else logger.warning)(
            "The task feed could not read the database; reading again soon", extra={"error": repr(error)[:200]}
        )
        self.failing = True
        if self.closed:
            return
        await self.send_json(frames.error("unavailable", "The task database is not answering; figures follow."))
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.retry_after, self.inbox.put_nowait, {"type": PUSH})

    async def connect(self) -> None:
        self.last_push = float("-inf")
        self.bucket, self.refused = TokenBucket(self.burst, self.rate), 0
        await self.accept()  # then close with the code that says why, if the user may not watch
        if "session" not in self.scope:
            logger.warning("The task feed needs a session: route it behind AuthMiddlewareStack")
            await self.close(frames.NOT_LOGGED_IN)
            return
        self.session_key = self.scope["session"].session_key
        await self.watch()

    async def watch(self) -> None:
        """Check the user, join the events group, send the figures (again, after a database failure)."""
        if not await self.allowed():
            return
        if self.layer is not None and self.subscription is None:
            # Joined before the first read of the figures, so no change after that read goes unannounced.
            self.subscription = Subscription(self.layer, conf.get().EVENTS_GROUP, self.post)
            await self.subscription.start()
        self.watching = True
        await self.push()

    async def disconnect(self, code: int) -> None:
        subscription, self.subscription = self.subscription, None
        self.end()
        if subscription is not None:
            await subscription.stop()

    def end(self) -> None:
        """Stop the timer and, for a feed that ends without its disconnect handler, leave the group in the back."""
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        subscription, self.subscription = self.subscription, None
        if subscription is not None:
            stopping = asyncio.ensure_future(subscription.stop())
            leaving.add(stopping)
            stopping.add_done_callback(leaving.discard)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self.closed:
            return
        if not self.bucket.take():
            await self.slow_down()
            return
        self.refused = 0
        request, problem = None, None
        try:
            request = frames.read(text_data)
        except frames.FrameError as error:
            problem = error
        if not await self.allowed(answer=True, request=request):
            return
        if problem is not None:
            await self.send_json(frames.error(problem.code, problem.message))
            if problem.code == "too_large":
                await self.close(frames.TOO_LARGE)
        elif request is not None and request.kind == frames.ACT:
            await self.send_json(await database_sync_to_async(act)(self.session_key, self.scope, request))
        else:
            self.schedule()

    async def task_changed(self, event: dict[str, Any]) -> None:
        """A task changed state somewhere (retry.events): fresh figures soon."""
        self.schedule()

    # Tasks changed state (retry.events publishes the events of one moment together), or the channel layer is
    # back after a failure and changes may have gone unannounced meanwhile: the same, fresh figures soon.
    task_changes = subscription_resumed = task_changed

    def schedule(self) -> None:
        if self.closed or self.timer is not None:
            return  # the push already planned reads the database after this change
        delay = max(0.0, self.last_push + self.min_interval - time.monotonic())
        # Straight into the inbox, past its capacity: one push at most waits there.
        self.timer = asyncio.get_running_loop().call_later(delay, self.inbox.put_nowait, {"type": PUSH})

    async def feed_push(self, message: dict[str, Any]) -> None:
        self.timer = None  # a change from now on needs a push of its own
        await (self.push() if self.watching else self.watch())

    async def push(self) -> None:
        self.last_push = time.monotonic()
        if not await self.allowed():
            return
        current = await database_sync_to_async(figures)()
        self.failing = False
        if not self.closed:
            await self.send_json(frames.message("dashboard.figures", figures=current))

    async def allowed(self, *, answer: bool = False, request: frames.Request | None = None) -> bool:
        """Whether the session still belongs to a user who may watch; if not, close with the code that says why.

        ``answer``: the client's frame (``request``, if valid) is answered first with an "access_lost" error.
        """
        if self.closed:
            return False
        user = await database_sync_to_async(session_user)(self.session_key)
        code = refusal(user)
        if code is None:
            return True
        if answer:
            await self.send_json(frames.error("access_lost", ACCESS_LOST[code], request))
        await self.close(code)
        return False

    async def slow_down(self) -> None:
        self.refused += 1
        if self.refused > self.flood_limit:
            await self.close(frames.FLOODING)
            return
        await self.send_json(frames.error("rate_limited", "Too many messages; wait a moment and try again."))

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        self.closed = True
        await super().close(code, reason)
