"""Where websocket paths and task channels lead."""

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.urls import path, re_path

from consumers import backlog, origins
from consumers.board import KitchenBoardConsumer
from consumers.dashboard import DashboardConsumer
from consumers.pickup import PickupScreenConsumer
from retry import conf
from retry.worker.consumer import TaskWorkerConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/kitchen/", KitchenBoardConsumer.as_asgi()),
    path("ws/pickup/", PickupScreenConsumer.as_asgi()),
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
    # Any other path is refused at the handshake (HTTP 403), not failed with a traceback (HTTP 500).
    re_path(r"", WebsocketDenier.as_asgi()),
]


def websocket_application() -> Any:
    return backlog.BacklogMiddleware(origins.OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))))


def channel_routes() -> dict[str, Any]:
    """One channel per task queue, all served by the task-worker consumer."""
    queues = settings.TASKS["default"].get("QUEUES") or ["default"]
    worker = TaskWorkerConsumer.as_asgi()
    return {conf.get().CHANNEL_PREFIX + queue: worker for queue in queues}
