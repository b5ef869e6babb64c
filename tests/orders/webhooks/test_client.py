"""One webhook POST against a real HTTP server on 127.0.0.1, allowed by WEBHOOK_ALLOWED_NETWORKS."""

import json
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_django import Settings

from orders.webhooks import client, outcomes, signing
from orders.webhooks.errors import DeliveryFailed, UnsafeURL
from tests.orders.webhooks.receiver import AddressInfo, Receiver

SECRET = "whsec_" + "c2Nvb3Bib2FyZC10ZXN0LXNlY3JldC0zMi1ieXRlcyE="
BODY = json.dumps({"id": "evt_1", "type": "order.status_changed", "data": {"order_id": 7}}).encode()
CAP = 64 * 1024


@pytest.fixture
def receiver(settings: Settings) -> Iterator[Receiver]:
    with Receiver(SECRET) as running:
        allow(settings, running.port)
        yield running


def allow(settings: Settings, *ports: int) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOK_ALLOWED_PORTS = [80, 443, *ports]


def post(url: str, *, deadline: float = 5.0, body: bytes = BODY, **kwargs: Any) -> client.Response:
    headers = signing.headers([SECRET], "evt_1", int(time.time()), body)
    return client.post_json(url, body, headers, deadline=deadline, max_response_bytes=CAP, **kwargs)


def test_a_delivery_arrives_signed_and_is_delivered(receiver: Receiver) -> None:
    response = post(receiver.url("/ok"))

    assert response.status == 200
    assert outcomes.classify(response.status, response.headers).delivered
    [hit] = receiver.hits
    assert hit.signature_ok
    assert hit.body == BODY
    assert hit.headers["Host"] == f"127.0.0.1:{receiver.port}"
    assert hit.headers["Content-Type"] == "application/json"
    assert response.body == b'{"ok": true}'
    assert 0 < response.duration < 5


def test_the_receiver_refuses_a_signature_made_with_another_secret(receiver: Receiver) -> None:
    headers = signing.headers([b"some other secret"], "evt_1", int(time.time()), BODY)
    response = client.post_json(receiver.url("/ok"), BODY, headers, deadline=5, max_response_bytes=CAP)

    assert response.status == 401
    assert not receiver.hits[0].signature_ok


@pytest.mark.parametrize(
    ("path", "retryable", "disable", "retry_after"),
    [
        ("/status/500", True, False, None),  # server error: try again later
        ("/status/503?retry_after=30", True, False, 30.0),  # unavailable, and says when to come back
        ("/status/429?retry_after=120", True, False, 120.0),  # too many requests: honour Retry-After
        ("/status/429?retry_after=999999", True, False, 3600.0),  # capped at WEBHOOK_MAX_RETRY_AFTER
        ("/status/404", False, False, None),  # no such endpoint: retrying cannot help
        ("/status/400", False, False, None),  # the receiver refuses what we send
        ("/status/410", False, True, None),  # gone: give up and switch the webhook off
    ],
)
def test_a_response_status_decides_the_outcome(
    receiver: Receiver, path: str, retryable: bool, disable: bool, retry_after: float | None
) -> None:
    response = post(receiver.url(path))
    outcome = outcomes.classify(response.status, response.headers)

    assert response.status == int(path.split("/")[2].split("?")[0])
    assert not outcome.delivered
    assert (outcome.retryable, outcome.permanent) == (retryable, not retryable)
    assert outcome.disable is disable
    assert outcome.retry_after == retry_after


def test_a_hanging_receiver_times_out_within_the_deadline(receiver: Receiver) -> None:
    started = time.monotonic()
    with pytest.raises(DeliveryFailed, match="timed out") as failure:
        post(receiver.url("/hang"), deadline=0.5)

    assert 0.5 <= time.monotonic() - started < 1.5
    assert outcomes.classify_error(failure.value).retryable
    assert len(receiver.hits) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/trickle",  # the headers at once, then the body one byte every 50 ms
        "/trickle-status",  # even the status line one byte every 50 ms
    ],
)
def test_a_trickling_receiver_hits_the_total_deadline(receiver: Receiver, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(DeliveryFailed, match="timed out"):
        post(receiver.url(path), deadline=0.6)

    # Every single read got a byte within 50 ms; only a total deadline stops the delivery.
    assert time.monotonic() - started < 1.5


def test_a_huge_response_is_read_only_up_to_the_cap(receiver: Receiver) -> None:
    started = time.monotonic()
    response = post(receiver.url("/huge"))

    assert response.status == 200
    assert len(response.body) == CAP
    assert time.monotonic() - started < 3


def test_a_redirect_is_returned_not_followed(settings: Settings) -> None:
    with Receiver(SECRET) as first, Receiver(SECRET) as target:
        allow(settings, first.port, target.port)
        response = post(first.url(f"/redirect?to={target.url('/ok')}"))

    outcome = outcomes.classify(response.status, response.headers)
    assert response.status == 302
    assert outcome.permanent
    assert "redirect" in outcome.reason
    assert len(first.hits) == 1
    assert target.hits == []


def test_a_closed_port_is_a_retryable_connection_error(settings: Settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    allow(settings, port)

    with pytest.raises(DeliveryFailed, match="ConnectionRefused") as failure:
        post(f"http://127.0.0.1:{port}/ok")

    assert failure.value.status is None
    assert outcomes.classify_error(failure.value).retryable


def test_an_unsafe_url_is_a_permanent_failure(settings: Settings) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(UnsafeURL) as refusal:
        post("http://169.254.169.254/latest/meta-data/")

    outcome = outcomes.classify_error(refusal.value)
    assert outcome.permanent
    assert "cloud metadata" in outcome.reason


def test_the_connection_goes_to_the_checked_address_and_keeps_the_host_name(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name is resolved once, checked, and that very address is the one connected to."""
    answers = iter(["127.0.0.1", "10.0.0.1", "10.0.0.1"])
    lookups = []

    def resolver(host: str, port: int, *args: object, **kwargs: object) -> list[AddressInfo]:
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    response = post(f"http://hooks.example:{receiver.port}/ok")

    assert response.status == 200
    assert lookups == ["hooks.example"]
    assert receiver.hits[0].headers["Host"] == f"hooks.example:{receiver.port}"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for the name "localhost"."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    command: list[str | Path] = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
    ]
    command += ["-addext", "subjectAltName=DNS:localhost", "-keyout", folder / "key.pem", "-out", folder / "cert.pem"]
    subprocess.run(command, check=True, capture_output=True)
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture
def tls_receiver(settings: Settings, certificate: tuple[Path, Path]) -> Iterator[Receiver]:
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(*certificate)
    with Receiver(SECRET, tls=server_context) as running:
        allow(settings, running.port)
        yield running


def test_https_checks_the_certificate_against_the_host_name(
    tls_receiver: Receiver, certificate: tuple[Path, Path]
) -> None:
    trusted = ssl.create_default_context(cafile=certificate[0])

    response = post(tls_receiver.url("/ok", host="localhost"), ssl_context=trusted)

    assert response.status == 200
    assert tls_receiver.hits[0].headers["Host"] == f"localhost:{tls_receiver.port}"


def test_https_refuses_a_certificate_for_another_name(tls_receiver: Receiver, certificate: tuple[Path, Path]) -> None:
    trusted = ssl.create_default_context(cafile=certificate[0])

    # The address is the same; the name is not the one the certificate names.
    with pytest.raises(DeliveryFailed, match="TLS certificate check failed"):
        post(tls_receiver.url("/ok", host="127.0.0.1"), ssl_context=trusted)

    assert tls_receiver.hits == []
