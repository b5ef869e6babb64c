"""The SSRF guard, without the allow-list: each unsafe URL is refused with its reason and nothing is connected to."""

import contextlib
import ipaddress
import re
import socket
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import assume, given
from hypothesis import strategies as st
from pytest_django import Settings

from orders.webhooks import client, ssrf
from orders.webhooks.errors import DeliveryFailed, UnsafeURL
from tests.orders.webhooks.receiver import AddressInfo


class Listener:
    """Listening sockets on 127.0.0.1 and [::1] on one port, to prove no connection reached them."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        for _ in range(20):
            with contextlib.suppress(OSError):
                self.sockets = [self.listen(socket.AF_INET, "127.0.0.1", 0)]
                self.port = self.sockets[0].getsockname()[1]
                self.sockets.append(self.listen(socket.AF_INET6, "::1", self.port))
                return
            self.close()
        raise RuntimeError("no port free on both 127.0.0.1 and ::1")

    @staticmethod
    def listen(family: int, host: str, port: int) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.bind((host, port))
            sock.listen(8)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def accepted(self) -> int:
        """Return how many connections arrived (the kernel completes them even before accept)."""
        count = 0
        for sock in self.sockets:
            while True:
                try:
                    connection, _ = sock.accept()
                except BlockingIOError:
                    break
                connection.close()
                count += 1
        return count

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def listener(settings: Settings) -> Iterator[Listener]:
    """A listener whose port is allowed, with no network allowed: only the address rules can refuse."""
    probe = Listener()
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    settings.WEBHOOK_ALLOWED_PORTS = [80, 443, probe.port]
    yield probe
    probe.close()


# Each row: host as written in the URL, and the reason the guard gives.
REFUSED_HOSTS = [
    ("127.0.0.1", "127.0.0.1 is a loopback address"),
    ("[::1]", "::1 is a loopback address"),
    ("0.0.0.0", "0.0.0.0 is an unspecified address"),  # Linux connects it to the local host
    ("[::]", ":: is an unspecified address"),
    ("10.1.2.3", "10.1.2.3 is a private address"),
    ("172.16.0.1", "172.16.0.1 is a private address"),
    ("172.31.255.254", "172.31.255.254 is a private address"),  # the far end of 172.16/12
    ("192.168.1.1", "192.168.1.1 is a private address"),
    ("169.254.169.254", "169.254.169.254 is a link-local address (the cloud metadata service)"),
    ("169.254.1.1", "169.254.1.1 is a link-local address"),
    ("[fe80::1]", "fe80::1 is a link-local address"),
    ("[fd00::1]", "fd00::1 is a unique local (private) address"),
    ("100.64.0.1", "100.64.0.1 is a carrier-grade NAT address"),
    ("198.18.0.1", "198.18.0.1 is a benchmarking address"),
    ("192.0.2.1", "192.0.2.1 is a documentation address"),
    ("[2001:db8::1]", "2001:db8::1 is a documentation address"),
    ("224.0.0.1", "224.0.0.1 is a multicast address"),
    ("[ff02::1]", "ff02::1 is a multicast address"),
    ("240.0.0.1", "240.0.0.1 is a reserved address"),
    ("255.255.255.255", "255.255.255.255 is the broadcast address"),
    # IPv6 forms that carry an IPv4 address: the address inside is judged.
    ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1 is an IPv4-mapped address of 127.0.0.1, which is a loopback address"),
    ("[::ffff:10.0.0.1]", "::ffff:10.0.0.1 is an IPv4-mapped address of 10.0.0.1, which is a private address"),
    ("[::ffff:8.8.8.8]", "::ffff:8.8.8.8 is an IPv4-mapped address, not global unicast"),  # 3.13 calls it global
    (
        "[::127.0.0.1]",
        "::127.0.0.1 means ::7f00:1, which is an IPv4-compatible address of 127.0.0.1, which is a loopback address",
    ),
    ("[64:ff9b::7f00:1]", "64:ff9b::7f00:1 is a NAT64 address of 127.0.0.1, which is a loopback address"),
    ("[64:ff9b::a9fe:a9fe]", "64:ff9b::a9fe:a9fe is a NAT64 address of 169.254.169.254, which is a link-local"),
    ("[64:ff9b:1::8.8.8.8]", "64:ff9b:1::8.8.8.8 means 64:ff9b:1::808:808, which is a local-use NAT64 address"),
    ("[2002:7f00:1::]", "2002:7f00:1:: is a 6to4 address of 127.0.0.1, which is a loopback address"),
    ("[2002:808:808::]", "2002:808:808:: is a 6to4 address, not global unicast"),
    ("[2001:0:4136:e378:8000:63bf:80ff:fffe]", "is a Teredo address of 127.0.0.1, which is a loopback address"),
    # Forms glibc's resolver (and inet_aton) read as 127.0.0.1: judged before any lookup.
    ("127.1", "127.1 means 127.0.0.1, which is a loopback address"),
    ("0x7f.1", "0x7f.1 means 127.0.0.1, which is a loopback address"),
    ("2130706433", "2130706433 means 127.0.0.1, which is a loopback address"),
    ("017700000001", "017700000001 means 127.0.0.1, which is a loopback address"),
    ("0x7f000001", "0x7f000001 means 127.0.0.1, which is a loopback address"),
    # A name that resolves to loopback.
    ("localhost", "localhost resolves to 127.0.0.1, which is a loopback address"),
]


@pytest.mark.parametrize(("host", "reason"), REFUSED_HOSTS)
def test_an_unsafe_address_is_refused_and_not_connected_to(listener: Listener, host: str, reason: str) -> None:
    url = f"http://{host}:{listener.port}/hook"

    with pytest.raises(UnsafeURL) as refusal:
        client.post_json(url, b"{}", {}, deadline=2, max_response_bytes=1024)

    assert reason in refusal.value.reason
    assert listener.accepted() == 0


def test_the_listener_does_see_a_connection_that_is_allowed(listener: Listener, settings: Settings) -> None:
    """The proof above can fail: with the network allowed, the same kind of URL does connect."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]

    with pytest.raises(DeliveryFailed, match="timed out"):
        client.post_json(f"http://127.1:{listener.port}/", b"{}", {}, deadline=0.3, max_response_bytes=1024)

    assert listener.accepted() == 1


@pytest.mark.parametrize(
    ("host", "resolved"),
    [
        ("127.1", "127.0.0.1"),  # a missing part fills the last byte
        ("0x7f.1", "127.0.0.1"),  # hexadecimal
        ("2130706433", "127.0.0.1"),  # one 32-bit number
        ("017700000001", "127.0.0.1"),  # octal
        ("localhost", "127.0.0.1"),
    ],
)
def test_the_resolvers_answer_is_judged(settings: Settings, host: str, resolved: str) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(UnsafeURL, match=re.escape(f"resolves to {resolved}, which is a loopback address")):
        ssrf.resolve_and_check(host, 80)

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    assert ssrf.resolve_and_check(host, 80) == [ipaddress.ip_address(resolved)]


def test_one_bad_address_in_a_dns_answer_refuses_the_whole_url(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    answer = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "10.0.0.7"]

    def resolver(host: str, port: int, *args: object, **kwargs: object) -> list[AddressInfo]:
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answer
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with pytest.raises(UnsafeURL, match=re.escape("hooks.example resolves to 10.0.0.7, which is a private address")):
        ssrf.resolve_and_check("hooks.example", 443)

    answer.pop()
    assert [str(ip) for ip in ssrf.resolve_and_check("hooks.example", 443)] == answer[:2]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "the scheme 'file' is not allowed"),
        ("gopher://127.0.0.1:70/_HELO", "the scheme 'gopher' is not allowed"),
        ("ftp://example.com/", "the scheme 'ftp' is not allowed"),
        ("javascript:alert(1)", "the scheme 'javascript' is not allowed"),
        ("//example.com/hook", "the scheme 'of the URL' is not allowed"),  # no scheme at all
        ("http://user:secret@example.com/", "must not contain a user name or password"),
        ("http://user@example.com/", "must not contain a user name or password"),
        ("http:///hook", "the URL names no host"),
        ("http://example.com:22/", "port 22 is not one of the allowed ports (80, 443, 8080, 8443)"),  # SSH
        ("http://example.com:6379/", "port 6379 is not one of the allowed ports"),  # Redis
        ("https://example.com:0/", "port 0 is not one of the allowed ports"),
        ("http://example.com:99999/", "the URL cannot be read"),
        ("http://example.com:http/", "the URL cannot be read"),
        ("http://[::1/", "the URL cannot be read"),
        ("http://example.com/a b", "spaces or control characters"),
        ("http://example.com/\r\nX-Injected: 1", "spaces or control characters"),  # header injection
        ("http://" + "a" * 64 + ".example.com/", "is not a valid host name"),  # a DNS label is at most 63
        ("http://example.com/" + "a" * 2048, "longer than 2048 characters"),
    ],
)
def test_check_url_refuses_unsafe_urls_statically(settings: Settings, url: str, reason: str) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["0.0.0.0/0"]  # even allowing every address does not help these

    with pytest.raises(UnsafeURL) as refusal:
        ssrf.check_url(url)

    assert reason in refusal.value.reason


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://hooks.example.com/scoop", ("https", "hooks.example.com", 443, "/scoop", None)),
        ("HTTP://Hooks.Example.com", ("http", "hooks.example.com", 80, "/", None)),  # case folded, path defaulted
        ("http://example.com:8080/a?b=1#frag", ("http", "example.com", 8080, "/a?b=1", None)),  # fragment dropped
        ("https://8.8.8.8:8443/", ("https", "8.8.8.8", 8443, "/", ipaddress.ip_address("8.8.8.8"))),
        ("http://[2606:4700::1111]/", ("http", "2606:4700::1111", 80, "/", ipaddress.ip_address("2606:4700::1111"))),
    ],
)
def test_check_url_returns_the_parts_of_a_safe_url(
    settings: Settings, url: str, expected: tuple[str, str, int, str, ssrf.IPAddress | None]
) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = []

    target = ssrf.check_url(url)

    assert (target.scheme, target.host, target.port, target.path, target.address) == expected


def test_the_port_allow_list_comes_from_the_setting(settings: Settings) -> None:
    settings.WEBHOOK_ALLOWED_PORTS = [9000]

    assert ssrf.check_url("http://example.com:9000/").port == 9000
    with pytest.raises(UnsafeURL, match=r"port 80 is not one of the allowed ports \(9000\)"):
        ssrf.check_url("http://example.com/")


def test_the_network_allow_list_reaches_only_what_it_lists(settings: Settings) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32", "fd00::/8"]

    assert ssrf.check_url("http://127.0.0.1/").address == ipaddress.ip_address("127.0.0.1")
    assert ssrf.check_url("http://[fd00::5]/").host == "fd00::5"
    with pytest.raises(UnsafeURL, match=re.escape("127.0.0.2 is a loopback address")):
        ssrf.check_url("http://127.0.0.2/")


def test_a_malformed_network_setting_is_a_configuration_error(settings: Settings) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/33"]

    with pytest.raises(ImproperlyConfigured, match=re.escape("WEBHOOK_ALLOWED_NETWORKS has '127.0.0.1/33'")):
        ssrf.check_url("http://127.0.0.1/")


REFUSED_NETWORKS = [network for network, _ in ssrf.IPV4_REFUSED + ssrf.IPV6_REFUSED]
REFUSED_IPV4 = [network for network, _ in ssrf.IPV4_REFUSED]
#: An IPv4 or IPv6 network.
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def addresses_in(networks: list[IPNetwork]) -> st.SearchStrategy[ssrf.IPAddress]:
    def pick(network: IPNetwork) -> st.SearchStrategy[ssrf.IPAddress]:
        first, last = int(network.network_address), int(network.broadcast_address)
        return st.integers(first, last).map(type(network.network_address))

    return st.sampled_from(networks).flatmap(pick)


@given(addresses_in(REFUSED_NETWORKS))
def test_any_address_in_a_refused_network_is_refused(address: ssrf.IPAddress) -> None:
    assert ssrf.refusal(address) is not None


@given(addresses_in(REFUSED_IPV4), st.sampled_from(["::ffff:{}", "::{}", "64:ff9b::{}", "::ffff:0:{}"]))
def test_any_refused_ipv4_address_stays_refused_inside_ipv6(inner: ssrf.IPAddress, form: str) -> None:
    address = ipaddress.IPv6Address(form.format(inner))
    assume(address not in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")))  # their own reasons

    said = ssrf.refusal(address)
    assert said is not None
    assert f"of {inner}, which is" in said


@given(addresses_in(REFUSED_IPV4), st.integers(0, 2**80 - 1))
def test_any_refused_ipv4_address_stays_refused_inside_6to4(inner: ssrf.IPAddress, suffix: int) -> None:
    address = ipaddress.IPv6Address((0x2002 << 112) | (int(inner) << 80) | suffix)

    said = ssrf.refusal(address)
    assert said is not None
    assert f"6to4 address of {inner}, which is" in said


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",  # public DNS
        "1.1.1.1",
        "93.184.215.14",
        "172.32.0.1",  # just past 172.16/12
        "100.128.0.1",  # just past 100.64/10
        "2606:4700:4700::1111",
        "2a00:1450:4001:82b::200e",
        "64:ff9b::808:808",  # NAT64 of a public address routes to that address
    ],
)
def test_a_global_unicast_address_is_allowed(address: str) -> None:
    assert ssrf.refusal(ipaddress.ip_address(address)) is None
