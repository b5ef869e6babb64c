"""docs/webhooks.md is enough for a receiver: its verification snippet accepts what Scoopboard really sends, and
refuses a changed body, another secret and a stale timestamp; the event and headers are the documented ones."""

import base64
import json
import re
import time
from collections.abc import Callable
from typing import Any, cast

import pytest
from pytest_django import Settings

from orders import services, tasks
from orders.models import WebhookDelivery
from tests.docs import markdown
from tests.factories import ORDER_FIELDS
from tests.orders.webhooks.receiver import Hit, Receiver

PAGE = markdown.read("docs/webhooks.md")
#: A secret being rotated out (a plain string) and the current one (Standard Webhooks' whsec_ form).
OLD_SECRET = "an-old-plain-secret"
NEW_SECRET = "whsec_" + base64.b64encode(b"docs-test-secret-of-32-bytes-ok!").decode()


def snippet() -> Callable[..., bool]:
    [code] = markdown.code_blocks(PAGE, "python")
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    return cast(Callable[..., bool], namespace["verify_webhook"])


@pytest.fixture
def delivered(settings: Settings, db: None) -> Hit:
    """One delivery of an order's first event, sent by the webhook task to a real receiver on 127.0.0.1."""
    with Receiver(NEW_SECRET) as receiver:
        settings.WEBHOOK_SECRETS = [NEW_SECRET, OLD_SECRET]
        settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        settings.WEBHOOK_ALLOWED_PORTS = [receiver.port]
        order = services.place_order(**ORDER_FIELDS, webhook_url=receiver.url("/ok"))
        delivery = WebhookDelivery.objects.get(order=order)
        tasks.deliver_webhook.call(delivery_id=delivery.pk, order_id=order.pk)
        [hit] = receiver.hits
    return hit


def lower(hit: Hit) -> dict[str, str]:
    return {name.lower(): value for name, value in hit.headers.items()}


@pytest.mark.services
def test_the_snippet_accepts_a_real_delivery_under_either_secret_of_a_rotation(delivered: Hit) -> None:
    verify_webhook = snippet()
    assert verify_webhook(NEW_SECRET, lower(delivered), delivered.body)
    assert verify_webhook(OLD_SECRET, lower(delivered), delivered.body)


@pytest.mark.services
def test_the_snippet_refuses_a_changed_body_another_secret_and_a_stale_timestamp(delivered: Hit) -> None:
    verify_webhook = snippet()
    headers = lower(delivered)
    assert not verify_webhook(NEW_SECRET, headers, delivered.body.replace(b"received", b"ready"))
    assert not verify_webhook("whsec_" + base64.b64encode(b"another").decode(), headers, delivered.body)
    stale = {**headers, "webhook-timestamp": str(int(time.time()) - 600)}
    assert not verify_webhook(NEW_SECRET, stale, delivered.body)
    assert not verify_webhook(NEW_SECRET, {**headers, "webhook-timestamp": ""}, delivered.body)


@pytest.mark.services
def test_the_delivery_has_the_documented_headers_and_event(delivered: Hit) -> None:
    headers = lower(delivered)
    documented = markdown.table_under(PAGE, ["header", "value"])
    assert {markdown.backticked(cells[0])[0] for cells in documented} <= set(headers)
    assert headers["content-type"] == "application/json"
    event = json.loads(delivered.body)
    [example] = [json.loads(block) for block in markdown.code_blocks(PAGE, "json")]
    assert event.keys() == example.keys() and event["data"].keys() == example["data"].keys()
    assert event["id"] == headers["webhook-id"] and event["type"] == example["type"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["timestamp"])
    assert len(headers["webhook-signature"].split()) == 2  # one per secret
