"""A board's connection under daphne (consumers.wire): frames written straight to the socket, and when not."""

import collections
import functools
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from consumers import wire


class Transport:
    """What the wire reads of a Twisted TCP connection: the socket, the write buffers, the state."""

    TLS = False

    def __init__(self, sock: socket.socket) -> None:
        self.socket = sock
        self.connected, self.disconnecting = True, False
        self.dataBuffer, self.offset, self._tempDataLen = b"", 0, 0
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)
        self._tempDataLen += len(data)


class Protocol:
    """daphne's WebSocketProtocol (an autobahn server protocol) as the wire reads it."""

    STATE_OPEN, STATE_CLOSING = 3, 2
    SEND_STATE_GROUND, SEND_STATE_INSIDE_MESSAGE = 0, 2

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.state = self.STATE_OPEN
        self._perMessageCompress: object = None
        self.send_state = self.SEND_STATE_GROUND
        self.send_queue: collections.deque[bytes] = collections.deque()


async def handle_reply(protocol: Protocol, message: dict[str, Any]) -> None:
    raise AssertionError("not called: daphne's own send")


@pytest.fixture
def pair() -> Iterator[tuple[wire.Wire, Transport, socket.socket]]:
    server, client = socket.socketpair()
    server.setblocking(False)
    transport = Transport(server)
    yield wire.Wire(functools.partial(handle_reply, Protocol(transport))), transport, client
    server.close()
    client.close()


def read_frame(client: socket.socket) -> tuple[int, bytes]:
    """One unmasked frame from the server: its first byte and its payload."""
    head = client.recv(2)
    size = head[1]
    assert not size & 0x80, "a server's frames are not masked"
    if size == 126:
        size = int.from_bytes(client.recv(2), "big")
    payload = b""
    while len(payload) < size:
        payload += client.recv(size - len(payload))
    return head[0], payload


@pytest.mark.parametrize("size", [0, 125, 126, 4000, wire.DIRECT_MAX])
def test_a_text_frame_goes_straight_to_the_socket(pair: Any, size: int) -> None:
    connection, transport, client = pair
    text = ("é" * size)[: size // 2] + "x" * (size - 2 * (size // 2))  # UTF-8: the length counts bytes
    assert connection.write_text(text)
    assert read_frame(client) == (wire.TEXT_FRAME, text.encode())
    assert transport.written == [] and connection.unsent() == 0


def test_what_the_socket_does_not_take_waits_in_twisteds_buffer(pair: Any) -> None:
    connection, transport, client = pair
    transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    texts = ["a" * 60_000, "b" * 60_000]
    assert connection.write_text(texts[0])
    assert transport.written and connection.unsent() == len(b"".join(transport.written))
    assert not connection.write_text(texts[1])  # the first still waits: it would be overtaken
    received = b""
    client.settimeout(1)
    while len(received) < len(wire.text_frame(texts[0].encode())) - connection.unsent():
        received += client.recv(65536)
    assert received + b"".join(transport.written) == wire.text_frame(texts[0].encode())


@pytest.mark.parametrize(
    "state",
    ["waiting", "closing", "compressed", "inside_message", "queued", "tls", "disconnecting", "too_large"],
)
def test_a_frame_goes_through_daphne_when_writing_it_here_could_break_the_stream(pair: Any, state: str) -> None:
    connection, transport, client = pair
    protocol, text = connection.protocol, "{}"
    if state == "waiting":
        transport.dataBuffer = b"a ping daphne wrote"
    elif state == "closing":
        protocol.state = protocol.STATE_CLOSING
    elif state == "compressed":
        protocol._perMessageCompress = object()
    elif state == "inside_message":
        protocol.send_state = protocol.SEND_STATE_INSIDE_MESSAGE
    elif state == "queued":
        protocol.send_queue.append(b"frame")
    elif state == "tls":
        transport.TLS = True
    elif state == "disconnecting":
        transport.disconnecting = True
    else:
        text = "x" * (wire.DIRECT_MAX + 1)
    assert not connection.write_text(text)
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(1)


def test_under_another_server_nothing_is_written_here() -> None:
    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("not called")

    for connection in (wire.Wire(send), wire.Wire(None)):
        assert not connection.write_text("{}") and connection.unsent() == 0
