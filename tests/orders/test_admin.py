"""The admin pages of orders, steps and staff: open to staff, closed to everyone else."""

from typing import TYPE_CHECKING

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from orders import services
from orders.models import Order, StaffProfile, Step, WebhookDelivery
from tests.factories import ORDER_FIELDS
from tests.orders.conftest import SECRET
from tests.orders.webhooks.receiver import Receiver

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db: None) -> User:
    return get_user_model().objects.create_superuser("root")


@pytest.fixture
def staff_client(client: Client, superuser: User) -> Client:
    client.force_login(superuser)
    return client


def order_pages(order: Order) -> list[str]:
    step = order.steps.first()
    assert step is not None
    return [
        reverse("admin:orders_order_changelist"),
        reverse("admin:orders_order_change", args=[order.pk]),
        reverse("admin:orders_order_add"),
        reverse("admin:orders_step_changelist"),
        reverse("admin:orders_step_change", args=[step.pk]),
        reverse("admin:orders_staffprofile_changelist"),
        reverse("admin:orders_staffprofile_add"),
    ]


def test_staff_can_open_every_page(staff_client: Client, order: Order) -> None:
    for url in order_pages(order):
        assert staff_client.get(url).status_code == 200, url


def test_kitchen_staff_with_view_and_change_permissions_can_open_orders(
    client: Client, alice: User, order: Order
) -> None:
    alice.user_permissions.set(Permission.objects.filter(codename__in=["view_order", "change_order", "add_order"]))
    client.force_login(alice)
    assert client.get(reverse("admin:orders_order_changelist")).status_code == 200
    assert client.get(reverse("admin:orders_order_change", args=[order.pk])).status_code == 200
    assert client.get(reverse("admin:orders_order_add")).status_code == 200


def test_anonymous_visitors_are_sent_to_the_login_page(client: Client, order: Order) -> None:
    for url in order_pages(order):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url


def test_non_staff_users_are_sent_to_the_login_page(client: Client, customer: User, order: Order) -> None:
    client.force_login(customer)
    for url in order_pages(order):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url


def test_staff_without_permissions_are_refused(client: Client, alice: User, order: Order) -> None:
    client.force_login(alice)
    assert client.get(reverse("admin:orders_order_changelist")).status_code == 403
    assert client.get(reverse("admin:orders_order_change", args=[order.pk])).status_code == 403


def test_steps_cannot_be_added_by_hand(staff_client: Client) -> None:
    assert staff_client.get(reverse("admin:orders_step_add")).status_code == 403


def test_adding_an_order_places_it_with_its_steps(staff_client: Client) -> None:
    response = staff_client.post(reverse("admin:orders_order_add"), ORDER_FIELDS)
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:orders_order_changelist")
    assert order.number == 1
    assert order.steps.count() == 3


def test_the_change_form_shows_steps_and_timestamps_read_only(staff_client: Client, order: Order) -> None:
    response = staff_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    form = response.context["adminform"].form
    assert "status" not in form.fields
    assert "created_at" not in form.fields
    assert "ready_notified_at" not in form.fields
    assert "Scoop" in response.text
    assert response.context["inline_admin_formsets"][0].formset.total_form_count() == 3


def test_search_finds_an_order_by_its_label_name_or_email(staff_client: Client, order: Order) -> None:
    url = reverse("admin:orders_order_changelist")
    for term in (order.label, str(order.number), "sam baker", "sam@example.com"):
        response = staff_client.get(url, {"q": term})
        assert list(response.context["cl"].result_list) == [order], term
    assert list(staff_client.get(url, {"q": "nobody"}).context["cl"].result_list) == []


def test_the_changelist_filters_by_status(staff_client: Client, order: Order, ready_order: Order) -> None:
    response = staff_client.get(reverse("admin:orders_order_changelist"), {"status__exact": "ready"})
    assert list(response.context["cl"].result_list) == [ready_order]


def run_action(client: Client, action: str, orders: list[Order]) -> "_MonkeyPatchedWSGIResponse":
    return client.post(
        reverse("admin:orders_order_changelist"),
        {"action": action, "_selected_action": [order.pk for order in orders]},
        follow=True,
    )


def test_deliver_action_delivers_ready_orders_and_reports_the_rest(
    staff_client: Client, alice: User, ready_order: Order
) -> None:
    received = Order.objects.create(number=99, **ORDER_FIELDS)
    response = run_action(staff_client, "deliver", [ready_order, received])
    ready_order.refresh_from_db()
    received.refresh_from_db()
    assert ready_order.status == Order.Status.DELIVERED
    assert received.status == Order.Status.RECEIVED
    texts = [str(message) for message in response.context["messages"]]
    assert "1 order(s) delivered." in texts
    assert "Order #099 is received; only a ready order can be delivered." in texts


def test_cancel_action_cancels_through_the_services(staff_client: Client, order: Order) -> None:
    run_action(staff_client, "cancel", [order])
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.cancelled_at is not None


def test_the_user_page_edits_kitchen_preferences(staff_client: Client, alice: User) -> None:
    url = reverse("admin:auth_user_change", args=[alice.pk])
    response = staff_client.get(url)
    assert response.status_code == 200
    assert "kitchen preferences" in response.text.lower()


def test_a_bad_preference_is_shown_as_a_form_error(staff_client: Client, alice: User) -> None:
    response = staff_client.post(
        reverse("admin:orders_staffprofile_add"), {"user": alice.pk, "preferred_steps": "scoop,bake"}
    )
    assert response.status_code == 200
    assert "at most once" in response.text
    assert not StaffProfile.objects.exists()


def test_step_changelist_lists_steps(staff_client: Client, order: Order) -> None:
    response = staff_client.get(reverse("admin:orders_step_changelist"), {"q": order.label})
    assert len(response.context["cl"].result_list) == 3
    assert Step.objects.count() == 3


def test_the_admin_names_webhook_deliveries_in_plain_english(admin_client: Client) -> None:
    index = admin_client.get("/admin/")
    assert "Webhook deliveries" in index.text
    assert "deliverys" not in index.text


def test_the_admin_shows_deliveries_read_only_and_never_the_secret(receiver: Receiver, admin_client: Client) -> None:
    order = services.place_order(**ORDER_FIELDS, webhook_url=receiver.url("/ok"))
    delivery = WebhookDelivery.objects.get(order=order)
    listing = admin_client.get("/admin/orders/webhookdelivery/")
    page = admin_client.get(f"/admin/orders/webhookdelivery/{delivery.pk}/change/")

    assert listing.status_code == page.status_code == 200
    assert delivery.webhook_id.encode() in listing.content
    assert b'name="_save"' not in page.content
    for response in (listing, page):
        assert SECRET.encode() not in response.content
        assert SECRET.removeprefix("whsec_").encode() not in response.content
