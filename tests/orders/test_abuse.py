"""The public form and API against a client that sends too much: per-address and per-e-mail limits,
and an Idempotency-Key that makes a retried POST return the first order instead of placing a second."""

import json
import threading
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import global_settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from orders.models import Order
from project import settings as project_settings
from tests.conftest import uses_services
from tests.factories import ORDER_FIELDS
from tests.strategies import HOSTILE_SCALARS

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

pytestmark = pytest.mark.django_db


def post_api(client: Client, body: object, **headers: Any) -> "_MonkeyPatchedWSGIResponse":
    return client.post(reverse("orders:api-create"), json.dumps(body), content_type="application/json", **headers)


def with_email(email: str) -> dict[str, str]:
    return {**ORDER_FIELDS, "customer_email": email}


def test_one_email_address_gets_at_most_its_limit_of_orders(client: Client, settings: Settings) -> None:
    settings.ORDER_RATE_LIMIT_PER_EMAIL = 2
    answers = [post_api(client, with_email("Sam@Example.com" if i % 2 else "sam@example.com")) for i in range(3)]

    assert [answer.status_code for answer in answers] == [201, 201, 429]
    assert answers[2].json() == {
        "error": "Too many orders from this e-mail address: at most 2 in 3600 s. Try again later."
    }
    assert 1 <= int(answers[2]["Retry-After"]) <= 3600
    assert Order.objects.count() == 2


def test_one_client_address_gets_at_most_its_limit_of_orders(client: Client, settings: Settings) -> None:
    settings.ORDER_RATE_LIMIT_PER_ADDRESS = 3
    statuses = [post_api(client, with_email(f"guest{i}@example.com")).status_code for i in range(4)]
    other = post_api(client, with_email("guest9@example.com"), REMOTE_ADDR="198.51.100.7")

    assert statuses == [201, 201, 201, 429]
    assert other.status_code == 201  # another address has its own count
    assert Order.objects.count() == 4


def test_the_form_shows_the_limit_and_places_nothing(client: Client, settings: Settings) -> None:
    settings.ORDER_RATE_LIMIT_PER_EMAIL = 1
    client.post(reverse("orders:new"), ORDER_FIELDS)
    refused = client.post(reverse("orders:new"), ORDER_FIELDS)

    assert refused.status_code == 429
    assert "Too many orders from this e-mail address" in refused.text
    assert 'value="Sam Baker"' in refused.text
    assert Order.objects.count() == 1


def test_invalid_requests_do_not_count(client: Client, settings: Settings) -> None:
    settings.ORDER_RATE_LIMIT_PER_EMAIL = 1
    for _ in range(3):
        assert post_api(client, {**ORDER_FIELDS, "flavour": "liquorice"}).status_code == 400
    assert post_api(client, ORDER_FIELDS).status_code == 201


def test_the_same_key_and_body_return_the_first_order_with_its_status(client: Client) -> None:
    key = str(uuid.uuid4())
    first = post_api(client, ORDER_FIELDS, HTTP_IDEMPOTENCY_KEY=key)
    Order.objects.update(status=Order.Status.IN_PROGRESS)
    reordered = dict(reversed(list(ORDER_FIELDS.items())))  # the same body, its fields in another order
    again = post_api(client, reordered, HTTP_IDEMPOTENCY_KEY=key)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "in_progress"
    assert again["Location"] == first["Location"]
    assert (first.has_header("Idempotent-Replayed"), again["Idempotent-Replayed"]) == (False, "true")
    assert Order.objects.count() == 1


def test_the_same_key_with_another_body_is_refused(client: Client) -> None:
    key = "order-2026-05-01-sam"
    post_api(client, ORDER_FIELDS, HTTP_IDEMPOTENCY_KEY=key)
    other = post_api(client, {**ORDER_FIELDS, "flavour": "mango"}, HTTP_IDEMPOTENCY_KEY=key)

    assert other.status_code == 422
    assert other.json() == {
        "error": "This Idempotency-Key was used with another request; send a new key for a new order."
    }
    assert Order.objects.get().flavour == "pistachio"


def test_a_replay_does_not_count_against_the_limits(client: Client, settings: Settings) -> None:
    settings.ORDER_RATE_LIMIT_PER_EMAIL = 1
    answers = [post_api(client, ORDER_FIELDS, HTTP_IDEMPOTENCY_KEY="k1").status_code for _ in range(3)]
    assert answers == [201, 201, 201]
    assert Order.objects.count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_a_malformed_key_is_refused(client: Client, key: str) -> None:
    answer = post_api(client, ORDER_FIELDS, HTTP_IDEMPOTENCY_KEY=key)
    assert answer.status_code == 400
    assert answer.json() == {"error": "The Idempotency-Key header must be 1 to 255 printable ASCII characters."}
    assert not Order.objects.exists()


@pytest.mark.services
def test_a_lone_surrogate_in_the_body_is_refused_not_a_server_error(client: Client) -> None:
    body = json.dumps(ORDER_FIELDS).replace("Sam Baker", "Sam \\ud800 Baker")
    answer = client.post(reverse("orders:api-create"), body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json() == {"error": "The body is not valid JSON in UTF-8."}
    assert not Order.objects.exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not uses_services(), reason="SQLite serialises writers; the race needs PostgreSQL")
def test_concurrent_posts_with_one_key_place_one_order() -> None:
    start = threading.Barrier(4)
    answers: list[dict[str, Any]] = []

    def post() -> None:
        start.wait()
        try:
            answers.append(post_api(Client(), ORDER_FIELDS, HTTP_IDEMPOTENCY_KEY="race").json())
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 4
    assert len({answer["id"] for answer in answers}) == 1
    assert Order.objects.count() == 1


@pytest.mark.services
def test_the_limits_count_in_the_projects_cache(client: Client, settings: Settings) -> None:
    settings.CACHES = getattr(project_settings, "CACHES", global_settings.CACHES)  # Redis when REDIS_URL is set
    settings.ORDER_RATE_LIMIT_PER_EMAIL = 1
    email = f"{uuid.uuid4().hex}@example.com"  # the project's cache may be the shared Redis: a key of its own
    assert post_api(client, with_email(email)).status_code == 201
    assert post_api(client, with_email(email)).status_code == 429


#: 50,000 nested lists: far past Python's recursion limit, which json.loads also meets.
DEEP = "[" * 50_000 + "]" * 50_000


@pytest.mark.services
@pytest.mark.parametrize("field", ["customer_name", "customer_email", "message", "webhook_url", "flavour"])
@pytest.mark.parametrize("value", [*map(json.dumps, HOSTILE_SCALARS), DEEP, '{"a": "dict"}', '["a", "list"]'])
def test_hostile_values_in_any_field_are_refused_and_nothing_is_saved(client: Client, field: str, value: str) -> None:
    body = json.dumps({**ORDER_FIELDS, field: "VALUE"}).replace('"VALUE"', value)
    answer = client.post(reverse("orders:api-create"), body, content_type="application/json")
    assert answer.status_code == 400, answer.content[:200]
    assert not Order.objects.exists()
