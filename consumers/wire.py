"""daphne's connection under a board: the bytes its client has not taken yet, and frames written straight to it.

A text frame through the ASGI send passes Channels' session wrapper, daphne, autobahn's frame builder and
Twisted's write buffer, which asks the event loop to watch the socket, writes on the next turn and stops
watching it: three quarters of what one board's event costs daphne. When nothing waits in those buffers, a board
writes its frame to the socket itself; the client sees the same frames in the same order.
"""

import functools
from typing import Any

#: Longest payload written straight to the socket (a 16-bit length); longer frames go through daphne.
DIRECT_MAX = 0xFFFF
#: The first byte of an unfragmented text frame: FIN and opcode 1.
TEXT_FRAME = 0x81


def text_frame(payload: bytes) -> bytes:
    """A server's text frame (not masked, RFC 6455 section 5.2) of up to DIRECT_MAX bytes."""
    size = len(payload)
    header = bytes((TEXT_FRAME, size)) if size < 126 else bytes((TEXT_FRAME, 126)) + size.to_bytes(2, "big")
    return header + payload


class Wire:
    """The connection of one application instance under daphne; under another server it only answers 0 and False."""

    def __init__(self, send: Any) -> None:
        # daphne hands each application instance partial(server.handle_reply, protocol).
        protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
        transport = getattr(protocol, "transport", None)
        known = hasattr(transport, "_tempDataLen") and hasattr(protocol, "send_queue")
        self.transport = transport if known else None
        #: daphne's WebSocketProtocol, an autobahn server protocol.
        self.protocol = protocol if known else None

    def unsent(self) -> int:
        """Bytes written to the connection that the network has not taken yet (beyond what the kernel holds)."""
        transport = self.transport
        if transport is None:
            return 0
        # A Twisted FileDescriptor holds what it could not write yet in dataBuffer (from offset on) and in the
        # writes since its last attempt (_tempDataLen bytes).
        return int(len(transport.dataBuffer) - transport.offset + transport._tempDataLen)

    def write_text(self, text: str) -> bool:
        """Write ``text`` as one text frame straight to the socket; False when it must go through daphne instead.

        Only while the websocket is open, sends plain frames (no compression, TLS or message under way) and has
        nothing waiting to be written, so nothing is overtaken; what the socket does not take waits in Twisted's
        buffer, as daphne's own writes do.
        """
        transport, protocol = self.transport, self.protocol
        payload = text.encode()
        if (
            transport is None
            or protocol is None
            or len(payload) > DIRECT_MAX
            or transport.TLS
            or not transport.connected
            or transport.disconnecting
            or protocol.state != protocol.STATE_OPEN
            or protocol._perMessageCompress is not None
            or protocol.send_state != protocol.SEND_STATE_GROUND
            or protocol.send_queue
            or self.unsent()
        ):
            return False
        frame = text_frame(payload)
        try:
            sent = transport.socket.send(frame)
        except BlockingIOError:
            sent = 0
        except OSError:
            return False  # the connection broke: daphne's write notices and closes it
        if sent < len(frame):
            transport.write(frame[sent:])
        return True


class WireMiddleware:
    """Puts the connection's Wire in the scope as "wire", before anything wraps ``send``."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        return await self.application({**scope, "wire": Wire(send)}, receive, send)
