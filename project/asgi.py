"""ASGI entry point: HTTP to Django, websockets to the boards, channel names to the task workers."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ChannelNameRouter, ProtocolTypeRouter  # noqa: E402

from consumers import routing  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": routing.websocket_application(),
        "channel": ChannelNameRouter(routing.channel_routes()),
    }
)
