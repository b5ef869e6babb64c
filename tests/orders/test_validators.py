"""The webhook URL check done when an order is placed."""

import pytest
from django.core.exceptions import ValidationError

from orders.validators import validate_webhook_url


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hooks/cake",
        "http://example.com",
        "https://example.com:443/a",
        "https://example.com:8443/a?x=1",
    ],
)
def test_plain_web_urls_pass(url: str) -> None:
    validate_webhook_url(url)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/file", "webhook_scheme"),
        ("javascript:alert(1)", "webhook_scheme"),
        ("file:///etc/passwd", "webhook_scheme"),
        ("https://user:secret@example.com/", "webhook_credentials"),
        ("https://user@example.com/", "webhook_credentials"),
        ("https:///path-only", "webhook_host"),
        ("http://example.com:25/", "webhook_port"),
        ("http://example.com:22/", "webhook_port"),
        ("http://example.com:99999/", "webhook_port"),
    ],
)
def test_unsafe_urls_are_refused_with_a_reason(url: str, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_webhook_url(url)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://example.com:22/",
            "The webhook URL is not allowed: port 22 is not one of the allowed ports (80, 443, 8080, 8443).",
        ),
        ("http://127.0.0.1/hook", "The webhook URL is not allowed: 127.0.0.1 is a loopback address."),
    ],
)
def test_each_refusal_reads_as_one_sentence(url: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_webhook_url(url)
    assert caught.value.messages == [message]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.1/hook", "webhook_unsafe"),  # an IP literal is judged at once
        ("http://[::ffff:10.0.0.1]/hook", "webhook_unsafe"),
        ("http://example.com:8000/hook", "webhook_port"),  # not in WEBHOOK_ALLOWED_PORTS
    ],
)
def test_save_time_validation_uses_the_delivery_guard(url: str, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_webhook_url(url)
    assert caught.value.code == code
