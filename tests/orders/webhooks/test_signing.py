"""Standard Webhooks signatures: the published test vector, rotation, verification and secret hygiene."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.webhooks import signing
from orders.webhooks.errors import InvalidSignature

# The vector published with the Standard Webhooks reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = 1_800_000_000


def test_sign_reproduces_the_standard_webhooks_test_vector() -> None:
    assert signing.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_a_whsec_secret_signs_with_the_key_it_encodes() -> None:
    key = b"\x00\x01raw key bytes\xff"
    encoded = "whsec_" + base64.b64encode(key).decode()

    assert signing.sign(encoded, "evt_1", NOW, b"{}") == signing.sign(key, "evt_1", NOW, b"{}")
    assert signing.sign(encoded.encode(), "evt_1", NOW, b"{}") == signing.sign(key, "evt_1", NOW, b"{}")


def test_headers_carry_one_signature_per_secret_for_rotation() -> None:
    new, old = b"the new secret", VECTOR_SECRET

    headers = signing.headers([new, old], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)

    assert headers["webhook-id"] == VECTOR_ID
    assert headers["webhook-timestamp"] == str(VECTOR_TIMESTAMP)
    first, second = headers["webhook-signature"].split(" ")
    assert first == signing.sign(new, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    assert second == VECTOR_SIGNATURE
    # A receiver holding either secret accepts the request; one holding neither does not.
    signing.verify(new, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)
    signing.verify(old, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)
    with pytest.raises(InvalidSignature, match="no signature matches"):
        signing.verify(b"a third secret", headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_headers_need_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        signing.headers([], "evt_1", NOW, b"{}")


def signed(**changes: str) -> dict[str, str]:
    headers = signing.headers([VECTOR_SECRET], "evt_1", NOW, b'{"a": 1}')
    return {**headers, **changes}


@pytest.mark.parametrize(
    ("headers", "body", "now", "message"),
    [
        (signed(), b'{"a": 2}', NOW, "no signature matches"),  # the body was changed
        (signed(**{"webhook-id": "evt_2"}), b'{"a": 1}', NOW, "no signature matches"),  # a replayed signature
        (signed(**{"webhook-timestamp": str(NOW + 1)}), b'{"a": 1}', NOW, "no signature matches"),  # re-dated
        (signed(), b'{"a": 1}', NOW + 301, "too far from now"),  # stale: a replay after 5 minutes
        (signed(), b'{"a": 1}', NOW - 301, "too far from now"),  # from the future
        (signed(**{"webhook-timestamp": "soon"}), b'{"a": 1}', NOW, "not a number"),
        (signed(**{"webhook-signature": "v2,abc"}), b'{"a": 1}', NOW, "no signature matches"),  # unknown version
        ({"webhook-id": "evt_1", "webhook-timestamp": str(NOW)}, b'{"a": 1}', NOW, "are all required"),
    ],
)
def test_verify_refuses_what_does_not_check_out(headers: dict[str, str], body: bytes, now: int, message: str) -> None:
    with pytest.raises(InvalidSignature, match=message):
        signing.verify(VECTOR_SECRET, headers, body, now=now)


def test_verify_accepts_a_fresh_request_with_any_header_case() -> None:
    headers = {name.title(): value for name, value in signed().items()}

    signing.verify(VECTOR_SECRET, headers, b'{"a": 1}', now=NOW + 300)


@given(st.binary(max_size=512), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=40))
def test_any_signed_body_verifies_and_any_changed_byte_does_not(body: bytes, msg_id: str) -> None:
    headers = signing.headers([VECTOR_SECRET], msg_id, NOW, body)
    signing.verify(VECTOR_SECRET, headers, body, now=NOW)

    changed = body + b"!" if not body else bytes([body[0] ^ 1]) + body[1:]
    with pytest.raises(InvalidSignature):
        signing.verify(VECTOR_SECRET, headers, changed, now=NOW)


def test_a_signing_key_never_shows_its_secret() -> None:
    key = signing.SigningKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

    for shown in (repr(key), str(key), f"{key}", repr([key])):
        assert "MfKQ9r8" not in shown
        assert shown.count("<hidden>") >= 1
