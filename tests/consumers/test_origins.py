"""The origin check on its own: the Host, the scheme (TLS told by the proxy) and the trusted origins."""

from typing import Any

import pytest
from pytest_django import Settings

from consumers import origins


def scope(origin: str, host: str = "cakes.example", **headers: str) -> dict[str, Any]:
    pairs = [(b"origin", origin.encode()), (b"host", host.encode())]
    return {"type": "websocket", "headers": pairs + [(k.encode(), v.encode()) for k, v in headers.items()]}


@pytest.fixture(autouse=True)
def behind_a_proxy(settings: Settings) -> None:
    settings.ALLOWED_HOSTS = ["cakes.example"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.CSRF_TRUSTED_ORIGINS = []


@pytest.mark.parametrize(
    ("given", "allowed"),
    [
        (scope("https://cakes.example", **{"x-forwarded-proto": "https"}), True),
        (scope("http://cakes.example", **{"x-forwarded-proto": "https"}), False),
        (scope("https://cakes.example"), False),  # the proxy did not say TLS
        (scope("http://cakes.example"), True),
        (scope("http://cakes.example", host="other.example"), False),  # a host not in ALLOWED_HOSTS
        (scope("http://other.example", host="other.example"), False),
    ],
)
def test_the_own_origin_is_judged_whole(given: dict[str, Any], allowed: bool) -> None:
    assert origins.allowed_origin(given) is allowed


def test_a_missing_origin_is_refused() -> None:
    assert not origins.allowed_origin({"type": "websocket", "headers": [(b"host", b"cakes.example")]})
