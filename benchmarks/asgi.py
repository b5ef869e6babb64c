"""The project's application plus one channel for the raw Channels consumer."""

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ChannelNameRouter, ProtocolTypeRouter  # noqa: E402

from benchmarks.consumers import RAW_CHANNEL, RawTaskConsumer  # noqa: E402
from consumers import routing  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": routing.websocket_application(),
        "channel": ChannelNameRouter({**routing.channel_routes(), RAW_CHANNEL: RawTaskConsumer.as_asgi()}),
    }
)
