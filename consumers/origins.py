"""Which pages may open a websocket: the whole Origin (scheme, host and port) must be the socket's own, on a host in
ALLOWED_HOSTS, or one of CSRF_TRUSTED_ORIGINS, as Django's CSRF check judges the origin of a form."""

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain


def header(scope: dict[str, Any], name: bytes) -> str | None:
    return next((value.decode("latin1") for key, value in scope.get("headers", []) if key == name), None)


def is_secure(scope: dict[str, Any]) -> bool:
    """Whether the client connected over TLS: wss, or the proxy says so in SECURE_PROXY_SSL_HEADER."""
    if scope.get("scheme") == "wss":
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy_header:
        return False
    name, secure_value = proxy_header
    forwarded = header(scope, name.removeprefix("HTTP_").replace("_", "-").lower().encode())
    return forwarded is not None and forwarded.split(",")[0].strip() == secure_value


def own_origin(scope: dict[str, Any]) -> str | None:
    """The origin of a page served by this host, or None when the Host header names no allowed host."""
    host = header(scope, b"host")
    domain, _ = split_domain_port(host or "")
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return f"{'https' if is_secure(scope) else 'http'}://{host}"


def trusted(origin: str) -> bool:
    """Whether ``origin`` is one of CSRF_TRUSTED_ORIGINS, or under one of its wildcard entries."""
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    wildcards = (urlsplit(entry) for entry in settings.CSRF_TRUSTED_ORIGINS if "*" in entry)
    return any(
        entry.scheme == parsed.scheme and is_same_domain(parsed.netloc, entry.netloc.lstrip("*")) for entry in wildcards
    )


def allowed_origin(scope: dict[str, Any]) -> bool:
    origin = header(scope, b"origin")
    return origin is not None and (origin == own_origin(scope) or trusted(origin))


class OriginValidator:
    """Refuses the handshake (HTTP 403) of a websocket opened from any other origin."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if allowed_origin(scope):
            return await self.application(scope, receive, send)
        # The stubs type a consumer's scope as their own TypedDict; a middleware is handed the server's plain dict.
        return await WebsocketDenier()(scope, receive, send)  # type: ignore[arg-type]
