"""One webhook POST: to the address the SSRF guard approved, within a total deadline, with a capped response."""

import dataclasses
import http.client
import io
import socket
import ssl
import time
from collections.abc import Mapping

from orders.webhooks import ssrf
from orders.webhooks.errors import DeliveryFailed
from retry import text

USER_AGENT = "Scoopboard-Webhooks/1"
#: Characters of a receiver's unreadable answer quoted in the error.
QUOTE_LIMIT = 100
#: Characters of a connection error's description.
REASON_LIMIT = 500


@dataclasses.dataclass(frozen=True)
class Response:
    """What a receiver answered; header names are lower case."""

    status: int
    headers: dict[str, str]
    body: bytes
    duration: float


class Deadline:
    """A point in time after which no socket operation of the delivery may start or continue."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self.at = self.started + seconds

    def elapsed(self) -> float:
        """Return the seconds since the deadline was set."""
        return time.monotonic() - self.started

    def remaining(self) -> float:
        """Return the seconds left, or raise TimeoutError when none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the {self.seconds:g} s deadline passed")
        return left


class DeadlineSocket:
    """A socket whose every send and receive may take only the time left before the deadline.

    A per-operation timeout alone lets a receiver trickle one byte a second forever; setting the timeout
    to what is left before each operation makes the deadline hold for the whole delivery.
    """

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock = sock
        self._deadline = deadline
        self._readers = 0
        self._closed = False

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self._deadline.remaining())
        self._sock.sendall(data)

    def recv_into(self, buffer: memoryview) -> int:
        self._sock.settimeout(self._deadline.remaining())
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(DeadlineReader(self))

    def close(self) -> None:
        # Like socket.makefile: http.client closes the connection while its response still reads from it.
        self._closed = True
        if self._readers == 0:
            self._sock.close()

    def release_reader(self) -> None:
        self._readers -= 1
        if self._closed:
            self.close()


class DeadlineReader(io.RawIOBase):
    """The raw stream http.client reads a response from."""

    def __init__(self, sock: DeadlineSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._sock.release_reader()
        super().close()


class PinnedConnection(http.client.HTTPConnection):
    """An HTTP connection to approved addresses, sending the original host name as Host.

    The name is never resolved again here, so a DNS answer that changes after the check (rebinding) has no effect.
    """

    def __init__(self, host: str, port: int, addresses: list[ssrf.IPAddress], deadline: Deadline) -> None:
        super().__init__(host, port)
        self.addresses = addresses
        self.deadline = deadline

    def connect(self) -> None:
        self.sock = DeadlineSocket(open_socket(self.addresses, self.port, self.deadline), self.deadline)


class PinnedHTTPSConnection(PinnedConnection):
    """The TLS form: SNI and the certificate check use the original host name."""

    default_port = 443

    def __init__(self, *args: object, context: ssl.SSLContext, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.context = context

    def connect(self) -> None:
        raw = open_socket(self.addresses, self.port, self.deadline)
        try:
            raw.settimeout(self.deadline.remaining())
            tls = self.context.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        self.sock = DeadlineSocket(tls, self.deadline)


def open_socket(addresses: list[ssrf.IPAddress], port: int, deadline: Deadline) -> socket.socket:
    """Connect to the first address that answers, like socket.create_connection but without resolving."""
    error: OSError = ConnectionError("no address to connect to")
    for address in addresses:
        timeout = deadline.remaining()
        family = socket.AF_INET if address.version == 4 else socket.AF_INET6
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect((str(address), port))
            return sock
        except OSError as failure:
            sock.close()
            error = failure
    raise error


def post_json(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    deadline: float,
    max_response_bytes: int,
    ssl_context: ssl.SSLContext | None = None,
) -> Response:
    """POST body to url within deadline seconds in total; redirects are returned, never followed.

    Raises UnsafeURL when the guard refuses the URL (no connection is made), DeliveryFailed on a connection
    error, a timeout or a malformed response.
    """
    clock = Deadline(deadline)
    target = ssrf.check_url(url)
    addresses = ssrf.resolve_and_check(target.host, target.port)
    connection = open_connection(target, addresses, clock, ssl_context)
    try:
        connection.request("POST", target.path, body=body, headers=request_headers(headers))
        with connection.getresponse() as response:
            content = response.read(max_response_bytes)
        return Response(response.status, response_headers(response), content, clock.elapsed())
    except (OSError, http.client.HTTPException) as error:
        raise DeliveryFailed(describe(error, clock)) from error
    finally:
        connection.close()


def open_connection(
    target: ssrf.ParsedTarget, addresses: list[ssrf.IPAddress], clock: Deadline, context: ssl.SSLContext | None
) -> PinnedConnection:
    if target.scheme == "https":
        context = context or ssl.create_default_context()
        return PinnedHTTPSConnection(target.host, target.port, addresses, clock, context=context)
    return PinnedConnection(target.host, target.port, addresses, clock)


def request_headers(headers: Mapping[str, str]) -> dict[str, str]:
    base = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "Connection": "close"}
    given = {name.lower() for name in headers}
    return {name: value for name, value in base.items() if name.lower() not in given} | dict(headers)


def response_headers(response: http.client.HTTPResponse) -> dict[str, str]:
    collected: dict[str, str] = {}
    for name, value in response.getheaders():
        key = name.lower()
        collected[key] = f"{collected[key]}, {value}" if key in collected else value
    return collected


def describe(error: BaseException, clock: Deadline) -> str:
    """Say in a line what went wrong; whatever the receiver sent is quoted short and storable."""
    if isinstance(error, TimeoutError):
        return f"timed out: no complete response within {clock.seconds:g} s"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate check failed: {error.verify_message}"
    if isinstance(error, http.client.BadStatusLine):
        # typeshed leaves out the line that BadStatusLine keeps (http.client sets self.line).
        return f"not an HTTP response: {error.line[:QUOTE_LIMIT]!r}"  # type: ignore[attr-defined]
    message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text.storable(message, REASON_LIMIT)
