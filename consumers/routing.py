"""Where websocket paths and task channels lead: the boards here, the task feed and task channels of retry."""

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import WebsocketDenier
from django.urls import path, re_path

from consumers import origins, wire
from consumers.kitchen_board import KitchenBoardConsumer
from consumers.pickup_screen import PickupScreenConsumer
from retry import routing as retry_routing


def websocket_urlpatterns() -> list[Any]:
    """The boards, the task dashboard's feed (at RETRY_FEED_PATH), and a refusal for any other path."""
    # path() is typed for views; Channels' URLRouter takes ASGI applications in their place.
    return [
        path("ws/kitchen/", KitchenBoardConsumer.as_asgi()),  # type: ignore[arg-type]
        path("ws/pickup/", PickupScreenConsumer.as_asgi()),  # type: ignore[arg-type]
        *retry_routing.websocket_urlpatterns(),
        # Any other path is refused at the handshake (HTTP 403), not failed with a traceback (HTTP 500).
        re_path(r"", WebsocketDenier.as_asgi()),  # type: ignore[arg-type]
    ]


def websocket_application() -> Any:
    return wire.WireMiddleware(origins.OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns()))))


def channel_routes() -> dict[str, Any]:
    """One channel per task queue, all served by the task-worker consumer."""
    return retry_routing.channel_routes()
