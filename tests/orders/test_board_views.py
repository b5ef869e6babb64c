"""The pages of the live boards."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_kitchen_board_sends_anonymous_visitors_to_the_login(client: Client) -> None:
    response = client.get(reverse("orders:kitchen"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_kitchen_board_is_for_staff_only(client: Client, customer: User) -> None:
    client.force_login(customer)
    assert client.get(reverse("orders:kitchen")).status_code == 302


def test_staff_get_the_kitchen_board_page(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get(reverse("orders:kitchen"))
    assert response.status_code == 200
    assert b'data-socket="/ws/kitchen/"' in response.content
    assert b"orders/board.js" in response.content


def test_the_pickup_screen_is_public(client: Client) -> None:
    response = client.get(reverse("orders:pickup"))
    assert response.status_code == 200
    assert b'data-socket="/ws/pickup/"' in response.content
