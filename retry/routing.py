"""What a project adds to its ASGI router for the retry layer: the task channels and the dashboard's feed.

    application = ProtocolTypeRouter({
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(routing.websocket_urlpatterns()))),
        "channel": ChannelNameRouter(routing.channel_routes()),
    })

The feed reads who is connected from the session, so it needs AuthMiddlewareStack (or SessionMiddlewareStack)
around it; checking the Origin is the project's choice.
"""

import re
from typing import Any

from django.urls import URLPattern, path

from retry import conf
from retry.messages import channel_for
from retry.monitoring.feed import TaskFeedConsumer
from retry.worker.consumer import TaskWorkerConsumer

#: One segment of a feed path: URL-safe characters only, so path() reads no converter and no query in it.
SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


def channel_routes() -> dict[str, Any]:
    """Each task queue's channel, all served by the task-worker consumer."""
    worker = TaskWorkerConsumer.as_asgi()
    return {channel_for(queue): worker for queue in conf.queues()}


def websocket_urlpatterns() -> list[URLPattern]:
    """The task dashboard's live feed, at RETRY_FEED_PATH."""
    # path() is typed for views; Channels' URLRouter takes ASGI applications in its place.
    feed = TaskFeedConsumer.as_asgi()
    return [path(conf.get().FEED_PATH, feed, name="retry_feed")]  # type: ignore[arg-type]


def path_problem(value: object) -> str | None:
    """What is wrong with ``value`` as RETRY_FEED_PATH; None when it is a path the feed can be served at."""
    if isinstance(value, str) and all(
        SEGMENT.fullmatch(segment) and segment not in (".", "..") for segment in value.removesuffix("/").split("/")
    ):
        return None
    if isinstance(value, str) and value.startswith("/") and path_problem(value.lstrip("/")) is None:
        return f"RETRY_FEED_PATH must not start with '/': write {value.lstrip('/')!r}, as path() does."
    return (
        "RETRY_FEED_PATH must be a websocket path such as 'ws/tasks/' (letters, digits and '-', '_', '.', '~' "
        f"between single slashes), not {value!r}."
    )
