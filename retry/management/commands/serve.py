import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from retry import conf


class Command(BaseCommand):
    help = "Serve the site with daphne; with RETRY_EMBEDDED on, task workers and the dispatcher run in it too."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        if not 0 <= port <= 65535:
            raise CommandError(f"--port {port} is not a port number from 0 to 65535.")
        try:
            import daphne.server  # installs the asyncio Twisted reactor; must come before other Twisted imports
        except ImportError:
            raise CommandError("serve needs daphne: pip install 'django-channels-retry[serve]'.") from None
        from channels.layers import get_channel_layer
        from channels.routing import get_default_application
        from daphne.endpoints import build_endpoint_description_strings
        from twisted.internet import defer, reactor

        from retry.embedded import Embedded

        application = get_default_application()
        server = daphne.server.Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            ready_callable=lambda: self.stdout.write(
                f"Serving on http://{host}:{port}/ (web, task workers and dispatcher in one process)"
            ),
        )
        if conf.get().EMBEDDED:
            embedded = Embedded(application, get_channel_layer())
            # Twisted runs these callbacks before its asyncio loop turns; start once the loop is running.
            reactor.callWhenRunning(lambda: asyncio.get_event_loop().call_soon(embedded.start))
            stop = lambda: defer.Deferred.fromFuture(asyncio.ensure_future(embedded.stop()))  # noqa: E731
            reactor.addSystemEventTrigger("before", "shutdown", stop)  # type: ignore[arg-type]
            self.stdout.write("Task workers and the dispatcher run in this process (RETRY_EMBEDDED).")
        server.run()
