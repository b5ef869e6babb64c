"""How far a client is behind: the bytes written to its connection that the network has not taken yet."""

import functools
from typing import Any


class Backlog:
    """The unsent bytes of one connection, read from daphne's Twisted transport; always 0 under another server."""

    def __init__(self, send: Any) -> None:
        # daphne hands each application instance partial(server.handle_reply, protocol).
        protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
        transport = getattr(protocol, "transport", None)
        self.transport = transport if hasattr(transport, "_tempDataLen") else None

    def unsent(self) -> int:
        transport = self.transport
        if transport is None:
            return 0
        # A Twisted FileDescriptor holds what it could not write yet in dataBuffer (from offset on) and in the
        # writes since its last attempt (_tempDataLen bytes).
        return int(len(transport.dataBuffer) - transport.offset + transport._tempDataLen)


class BacklogMiddleware:
    """Puts the connection's Backlog in the scope as "backlog", before anything wraps ``send``."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        return await self.application({**scope, "backlog": Backlog(send)}, receive, send)
