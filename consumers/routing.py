"""Where websocket paths and task channels lead."""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from channels.routing import URLRouter
from django.urls import path  # noqa: F401  (websocket paths are added with the boards)

websocket_urlpatterns: list = []


def websocket_application():
    return AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))


def channel_routes() -> dict:
    """One channel per task queue, all served by the task-worker consumer."""
    return {}
