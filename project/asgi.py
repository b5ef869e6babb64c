"""ASGI entry point: HTTP to Django, websockets to the boards, channel names to the task workers."""

import os

from django.core.asgi import get_asgi_application
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, SystemCheckError

from consumers import checks as board_checks
from project import checks as project_checks
from retry import checks as retry_checks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Requests run in threads that end with them: on PostgreSQL, a pool shares a few connections among them.
os.environ.setdefault("DATABASE_POOL", "1")
try:
    django_asgi_app = get_asgi_application()
    # daphne runs no system checks: run the retry layer's, the boards' and the Redis variables' here, so the web
    # process refuses what the workers refuse.
    BaseCommand().check(tags=[retry_checks.TAG, board_checks.TAG, project_checks.TAG])
except (ImproperlyConfigured, SystemCheckError) as error:
    raise SystemExit(f"Configuration error: {error}") from None

from channels.routing import ChannelNameRouter, ProtocolTypeRouter

from consumers import routing

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": routing.websocket_application(),
        "channel": ChannelNameRouter(routing.channel_routes()),
    }
)
