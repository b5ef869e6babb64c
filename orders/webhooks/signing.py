"""Standard Webhooks signatures: webhook-id, webhook-timestamp, webhook-signature (v1, HMAC-SHA256)."""

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

from orders.webhooks.errors import InvalidSignature

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"


class SigningKey:
    """A webhook secret as key bytes; its repr and str never show the key."""

    __slots__ = ("_key",)

    def __init__(self, secret: "bytes | str | SigningKey") -> None:
        self._key: bytes = secret._key if isinstance(secret, SigningKey) else decode_secret(secret)

    def __repr__(self) -> str:
        return "SigningKey(<hidden>)"

    __str__ = __repr__

    def digest(self, content: bytes) -> bytes:
        """Return the HMAC-SHA256 of content under this key."""
        return hmac.digest(self._key, content, hashlib.sha256)


Secret = bytes | str | SigningKey


def decode_secret(secret: bytes | str) -> bytes:
    """Return the key bytes of a secret: base64 after a "whsec_" prefix, else the secret itself."""
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if raw.startswith(SECRET_PREFIX.encode()):
        try:
            raw = base64.b64decode(raw[len(SECRET_PREFIX) :], validate=True)
        except binascii.Error:
            raise ValueError(f"a {SECRET_PREFIX} secret must be base64 after its prefix") from None
    if not raw:
        raise ValueError("a webhook secret must not be empty")
    return raw


def sign(secret: Secret, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return "v1,<base64 HMAC-SHA256 of msg_id.timestamp.body>"."""
    content = f"{msg_id}.{int(timestamp)}.".encode() + body
    mac = SigningKey(secret).digest(content)
    return f"{SIGNATURE_VERSION},{base64.b64encode(mac).decode()}"


def headers(secrets: Sequence[Secret], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the three Standard Webhooks headers, with one signature per secret (for rotation)."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign a webhook")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets),
    }


def verify(
    secret: Secret, headers: Mapping[str, str], body: bytes, tolerance: int = 300, *, now: float | None = None
) -> None:
    """Check a received request as a receiver would; raise InvalidSignature if it does not check out."""
    found = {name.lower(): value for name, value in headers.items()}
    msg_id, stamp, signatures = (found.get(name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not msg_id or not stamp or not signatures:
        raise InvalidSignature("webhook-id, webhook-timestamp and webhook-signature are all required")
    timestamp = check_timestamp(stamp, tolerance, time.time() if now is None else now)
    expected = sign(secret, msg_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures.split()):
        raise InvalidSignature("no signature matches")


def check_timestamp(stamp: str, tolerance: int, now: float) -> int:
    """Return the timestamp as an int if it is within tolerance seconds of now, either way."""
    if not stamp.isascii() or not stamp.isdigit():
        raise InvalidSignature("webhook-timestamp is not a number of seconds")
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature("webhook-timestamp is too far from now")
    return timestamp
