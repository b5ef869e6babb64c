"""The public order form, the confirmation page and the order API."""

import json
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.urls import reverse

from orders.models import Order, Step
from tests.factories import ORDER_FIELDS

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

pytestmark = pytest.mark.django_db


def test_order_form_shows_every_field(client: Client) -> None:
    response = client.get(reverse("orders:new"))
    assert response.status_code == 200
    for name in ("customer_name", "customer_email", "flavour", "size", "message", "webhook_url"):
        assert f'name="{name}"' in response.text
    assert "csrfmiddlewaretoken" in response.text


def test_order_form_places_the_order_and_shows_its_number(client: Client) -> None:
    response = client.post(reverse("orders:new"), ORDER_FIELDS, follow=True)
    order = Order.objects.get()
    assert response.redirect_chain == [(reverse("orders:detail", args=[order.number]), 302)]
    assert order.label in response.text
    assert order.steps.count() == 3


def test_order_form_is_refused_without_its_csrf_token(db: None) -> None:
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(reverse("orders:new"), ORDER_FIELDS)
    assert response.status_code == 403
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"customer_name": ""}, "customer_name", "This field is required."),
        ({"customer_email": ""}, "customer_email", "This field is required."),
        ({"customer_email": "sam-at-example"}, "customer_email", "Enter a valid email address."),
        ({"flavour": "liquorice"}, "flavour", "Select a valid choice."),
        ({"size": ""}, "size", "This field is required."),
        ({"message": "x" * 61}, "message", "at most 60 characters"),
        ({"webhook_url": "ftp://example.com/"}, "webhook_url", "must start with http:// or https://"),
        ({"webhook_url": "https://me:pw@example.com/"}, "webhook_url", "must not contain a user name or password"),
        ({"webhook_url": "not a url"}, "webhook_url", "Enter a valid URL."),
    ],
)
def test_order_form_shows_each_error_next_to_its_field(
    client: Client, changes: dict[str, str], field: str, error: str
) -> None:
    response = client.post(reverse("orders:new"), {**ORDER_FIELDS, **changes})
    assert response.status_code == 200
    assert error in response.text
    assert f'id="id_{field}_errors"' in response.text
    assert list(response.context["form"].errors) == [field]
    assert not Order.objects.exists()


def test_order_form_keeps_what_was_typed_after_an_error(client: Client) -> None:
    response = client.post(reverse("orders:new"), {**ORDER_FIELDS, "customer_email": "nope"})
    assert 'value="Sam Baker"' in response.text


def test_confirmation_page_shows_status_but_not_the_email(client: Client, order: Order) -> None:
    response = client.get(reverse("orders:detail", args=[order.number]))
    assert response.status_code == 200
    assert order.label in response.text
    assert "Received" in response.text
    assert order.customer_email not in response.text


def test_confirmation_page_of_an_unknown_number_is_404(client: Client, db: None) -> None:
    assert client.get(reverse("orders:detail", args=[999])).status_code == 404


def post_json(client: Client, body: object, content_type: str = "application/json") -> "_MonkeyPatchedWSGIResponse":
    payload = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(reverse("orders:api-create"), payload, content_type=content_type)


def test_api_places_an_order(client: Client) -> None:
    response = post_json(client, {**ORDER_FIELDS, "webhook_url": "https://example.com/hook"})
    assert response.status_code == 201
    body = response.json()
    order = Order.objects.get()
    assert body["id"] == order.pk
    assert (body["number"], body["label"], body["status"]) == (order.number, order.label, "received")
    assert (body["flavour"], body["size"]) == ("pistachio", "medium")
    assert body["steps"] == [{"kind": kind, "status": "todo"} for kind in Step.Kind.values]
    assert response["Location"] == reverse("orders:api-detail", args=[order.number])
    assert order.webhook_url == "https://example.com/hook"


def test_api_needs_no_csrf_token_for_json(db: None) -> None:
    from django.test import Client

    response = post_json(Client(enforce_csrf_checks=True), ORDER_FIELDS)
    assert response.status_code == 201


def test_api_returns_field_errors(client: Client) -> None:
    response = post_json(client, {**ORDER_FIELDS, "customer_email": "bad", "flavour": ""})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"customer_email", "flavour"}
    assert errors["customer_email"][0] == {"message": "Enter a valid email address.", "code": "invalid"}
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        ("customer_name=Sam", "application/x-www-form-urlencoded", 415),
        (json.dumps(ORDER_FIELDS), "text/plain", 415),
    ],
)
def test_api_refuses_bodies_that_are_not_a_json_object(
    client: Client, body: str | bytes, content_type: str, status: int
) -> None:
    response = post_json(client, body, content_type)
    assert response.status_code == status
    assert "error" in response.json()
    assert not Order.objects.exists()


def test_api_create_accepts_only_post(client: Client, db: None) -> None:
    assert client.get(reverse("orders:api-create")).status_code == 405


def test_api_shows_an_order_without_private_fields(client: Client, order: Order) -> None:
    response = client.get(reverse("orders:api-detail", args=[order.number]))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "id", "number", "label", "status", "flavour", "size", "steps", "url",
        "created_at", "updated_at", "ready_at", "delivered_at", "cancelled_at",
    }  # fmt: skip
    assert body["created_at"] == order.created_at.isoformat()
    assert body["ready_at"] is None
    assert body["url"].endswith(reverse("orders:detail", args=[order.number]))
    assert order.customer_email not in response.text
    assert order.customer_name not in response.text


def test_api_of_an_unknown_number_is_404_json(client: Client, db: None) -> None:
    response = client.get(reverse("orders:api-detail", args=[7]))
    assert response.status_code == 404
    assert response.json() == {"error": "There is no order #007."}
