"""The SSRF guard: a webhook reaches only global unicast addresses, on an allowed port, over http(s)."""

import dataclasses
import ipaddress
import socket
from urllib.parse import urlsplit

from orders.webhooks import conf
from orders.webhooks.errors import DeliveryFailed, UnsafeURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2048
# inet_aton reads "127.1", "0x7f.1", "2130706433" and "017700000001" as IPv4 addresses, and so does glibc's resolver.
INET_ATON_CHARS = frozenset("0123456789abcdefx.")


def _table(*rows: tuple[str, str]) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]:
    return tuple((ipaddress.ip_network(cidr), reason) for cidr, reason in rows)


IPV4_REFUSED = _table(
    ("0.0.0.0/8", "an unspecified address"),
    ("127.0.0.0/8", "a loopback address"),
    ("10.0.0.0/8", "a private address"),
    ("172.16.0.0/12", "a private address"),
    ("192.168.0.0/16", "a private address"),
    ("169.254.169.254/32", "a link-local address (the cloud metadata service)"),
    ("169.254.0.0/16", "a link-local address"),
    ("100.64.0.0/10", "a carrier-grade NAT address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("192.0.2.0/24", "a documentation address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("192.0.0.0/24", "an IETF protocol assignment"),
    ("192.88.99.0/24", "a 6to4 relay anycast address"),
    ("224.0.0.0/4", "a multicast address"),
    ("255.255.255.255/32", "the broadcast address"),
    ("240.0.0.0/4", "a reserved address"),
)
IPV6_REFUSED = _table(
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("fc00::/7", "a unique local (private) address"),
    ("ff00::/8", "a multicast address"),
    ("2001:db8::/32", "a documentation address"),
    ("3fff::/20", "a documentation address"),
    ("2001:2::/48", "a benchmarking address"),
    ("100::/64", "a discard-only address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ("5f00::/16", "a segment routing address"),
)
# IPv6 forms that carry an IPv4 address: (network, name, whether a global IPv4 inside makes it acceptable).
# Only NAT64's well-known prefix routes to the public IPv4 inside; the others never are global unicast.
IPV4_EMBEDDING = (
    (ipaddress.ip_network("::ffff:0:0/96"), "an IPv4-mapped address", False),
    (ipaddress.ip_network("::ffff:0:0:0/96"), "an IPv4-translated address", False),
    (ipaddress.ip_network("::/96"), "an IPv4-compatible address", False),
    (ipaddress.ip_network("64:ff9b::/96"), "a NAT64 address", True),
    (ipaddress.ip_network("2002::/16"), "a 6to4 address", False),
    (ipaddress.ip_network("2001::/32"), "a Teredo address", False),
)


@dataclasses.dataclass(frozen=True)
class ParsedTarget:
    """A webhook URL that passed the static checks."""

    scheme: str
    #: Host name as written (lower case, IPv6 without brackets); sent as Host and used for TLS.
    host: str
    port: int
    #: Request target: path and query.
    path: str
    #: The address when the host is an IP literal, else None.
    address: IPAddress | None = None


def check_url(url: str) -> ParsedTarget:
    """Return the parts of a webhook URL, or raise UnsafeURL; IP literals are judged here, names later."""
    check_characters(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeURL(f"the URL cannot be read: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeURL(f"the scheme {scheme or 'of the URL'!r} is not allowed: use http or https")
    if "@" in parts.netloc:
        raise UnsafeURL("the URL must not contain a user name or password")
    host = check_hostname(parts.hostname)
    port = check_port(DEFAULT_PORTS[scheme] if port is None else port)
    address = ip_literal(host)
    if address is not None:
        check_address(address, host, "means")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return ParsedTarget(scheme, host, port, path, address)


def check_characters(url: str) -> None:
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(char <= " " or char == "\x7f" for char in url):
        raise UnsafeURL("the URL contains spaces or control characters")


def check_hostname(host: str | None) -> str:
    if not host:
        raise UnsafeURL("the URL names no host")
    try:
        host.encode("idna")
    except UnicodeError:
        raise UnsafeURL(f"{host!r} is not a valid host name") from None
    return host


def check_port(port: int) -> int:
    allowed = conf.allowed_ports()
    if port not in allowed:
        listed = ", ".join(str(each) for each in sorted(allowed))
        raise UnsafeURL(f"port {port} is not one of the allowed ports ({listed})")
    return port


def ip_literal(host: str) -> IPAddress | None:
    """Return the address a host names by itself, including the legacy IPv4 forms glibc accepts."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if set(host) <= INET_ATON_CHARS:
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def resolve_and_check(host: str, port: int) -> list[IPAddress]:
    """Resolve host and return its addresses, to connect to; raise UnsafeURL if any one of them is refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise DeliveryFailed(f"cannot resolve {host}: {error.strerror}") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise DeliveryFailed(f"cannot resolve {host}: no addresses")
    for address in addresses:
        check_address(address, host)
    return addresses


def check_address(address: IPAddress, host: str | None = None, verb: str = "resolves to") -> None:
    """Raise UnsafeURL unless the address is global unicast or in WEBHOOK_ALLOWED_NETWORKS."""
    if any(address in network for network in conf.allowed_networks()):
        return
    reason = refusal(address)
    if reason is None:
        return
    if host is None or host == str(address):
        raise UnsafeURL(f"{address} is {reason}")
    raise UnsafeURL(f"{host} {verb} {address}, which is {reason}")


def refusal(address: IPAddress) -> str | None:
    """Return why an address is not global unicast, or None if it is."""
    table = IPV4_REFUSED if address.version == 4 else IPV6_REFUSED
    for network, reason in table:
        if address in network:
            return reason
    if isinstance(address, ipaddress.IPv6Address):
        embedded = embedding_refusal(address)
        if embedded is not None:
            return embedded
    # A backstop for networks the tables miss; the tables come first so the reason is precise.
    return None if address.is_global else "not a global unicast address"


def embedding_refusal(address: ipaddress.IPv6Address) -> str | None:
    """Judge the IPv4 addresses an IPv6 address carries, and the form that carries them."""
    for network, form, routes_to_inside in IPV4_EMBEDDING:
        if address in network:
            for inner in embedded_ipv4(address):
                inner_reason = refusal(inner)
                if inner_reason is not None:
                    return f"{form} of {inner}, which is {inner_reason}"
            return None if routes_to_inside else f"{form}, not global unicast"
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    if address.teredo is not None:
        server, client = address.teredo
        return [client, server]
    if address.sixtofour is not None:
        return [address.sixtofour]
    return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
