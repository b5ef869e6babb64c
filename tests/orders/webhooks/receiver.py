"""A real HTTP server on 127.0.0.1, in a thread, that plays every kind of webhook receiver the tests need."""

import dataclasses
import http.server
import socket
import ssl
import threading
import time
from urllib.parse import SplitResult, parse_qs, urlsplit

from orders.webhooks import signing
from orders.webhooks.errors import InvalidSignature

#: One answer of socket.getaddrinfo, as the tests' stand-in resolvers give it.
AddressInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[str, int]]


@dataclasses.dataclass
class Hit:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    #: time.monotonic() when the request arrived.
    received_at: float = dataclasses.field(default_factory=time.monotonic)


class Handler(http.server.BaseHTTPRequestHandler):
    """Routes by path: /ok, /status/<code>, /hang, /trickle, /trickle-status, /huge, /endless, /garbage,
    /garbage-headers, /redirect?to=<url>, /flaky/<n>?status=<code or hang>&retry_after=<s>: the first n requests
    to that path fail so, the rest are /ok."""

    protocol_version = "HTTP/1.1"
    server: "ReceiverServer"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        parts = urlsplit(self.path)
        self.server.receiver.record(self, parts.path, body)
        route = parts.path.strip("/").split("/")[0].replace("-", "_")
        getattr(self, f"answer_{route}", self.answer_not_found)(parts, body)

    def answer_ok(self, parts: SplitResult, body: bytes) -> None:
        signature_ok = self.server.receiver.hits[-1].signature_ok
        self.reply(200 if signature_ok else 401, b'{"ok": true}' if signature_ok else b"bad signature")

    def answer_status(self, parts: SplitResult, body: bytes) -> None:
        query = parse_qs(parts.query)
        extra = {"Retry-After": query["retry_after"][0]} if "retry_after" in query else {}
        self.reply(int(parts.path.split("/")[2]), b"status", extra)

    def answer_flaky(self, parts: SplitResult, body: bytes) -> None:
        failures = int(parts.path.split("/")[2])
        if sum(hit.path == parts.path for hit in self.server.receiver.hits) > failures:
            return self.answer_ok(parts, body)
        status = parse_qs(parts.query).get("status", ["500"])[0]
        if status == "hang":
            return self.answer_hang(parts, body)
        self.answer_status(parts._replace(path=f"/status/{status}"), body)

    def answer_redirect(self, parts: SplitResult, body: bytes) -> None:
        self.reply(302, b"", {"Location": parse_qs(parts.query)["to"][0]})

    def answer_hang(self, parts: SplitResult, body: bytes) -> None:
        self.server.receiver.release.wait(30)

    def answer_trickle(self, parts: SplitResult, body: bytes) -> None:
        self.write_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        self.trickle(b"x" * 1000)

    def answer_trickle_status(self, parts: SplitResult, body: bytes) -> None:
        self.trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    def answer_huge(self, parts: SplitResult, body: bytes) -> None:
        self.write_raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        chunk = b"y" * 65536
        for _ in range(1600):  # 100 MiB, far beyond any cap; stops when the client hangs up
            if not self.write_raw(chunk):
                return

    def answer_endless(self, parts: SplitResult, body: bytes) -> None:
        self.write_raw(b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n")
        while self.write_raw(b"10000\r\n" + b"\x00" * 65536 + b"\r\n"):
            pass  # until the client hangs up

    def answer_garbage(self, parts: SplitResult, body: bytes) -> None:
        """Not HTTP: a status line of NUL bytes, a lone surrogate's UTF-8 form and 60 KB of text."""
        self.write_raw(b"ICY \x00\x00 \xed\xa0\x80 " + b"no http here " * 4700 + b"\r\n\r\n")

    def answer_garbage_headers(self, parts: SplitResult, body: bytes) -> None:
        """A 503 whose reason, Retry-After and a 60 KB header are NUL bytes."""
        junk = b"\x00" * 60_000
        self.write_raw(
            b"HTTP/1.1 503 \x00\r\nRetry-After: \x00\x00\r\nX-Junk: " + junk + b"\r\nContent-Length: 0\r\n\r\n"
        )

    def answer_not_found(self, parts: SplitResult, body: bytes) -> None:
        self.reply(404, b"no such route")

    def reply(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def trickle(self, data: bytes) -> None:
        """Send one byte every 50 ms: each read gets data well within any per-read timeout."""
        for index in range(len(data)):
            if self.server.receiver.release.wait(0.05) or not self.write_raw(data[index : index + 1]):
                return

    def write_raw(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            return False
        return True

    def log_message(self, format: str, *args: object) -> None:
        pass


class ReceiverServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: "Receiver") -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", 0), Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        # The client hangs up on purpose in the deadline and size tests; that is not an error here.
        pass


class Receiver:
    """Start with `with Receiver(secret) as receiver:`; it records every request in `hits`."""

    def __init__(self, secret: bytes | str = b"receiver-secret", tls: ssl.SSLContext | None = None) -> None:
        self.secret = secret
        self.hits: list[Hit] = []
        self.release = threading.Event()
        self.server = ReceiverServer(self)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def record(self, handler: Handler, path: str, body: bytes) -> None:
        headers = dict(handler.headers.items())
        try:
            signing.verify(self.secret, headers, body)
            signature_ok = True
        except InvalidSignature:
            signature_ok = False
        self.hits.append(Hit(handler.command, path, headers, body, signature_ok))

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
