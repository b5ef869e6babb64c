"""Fixtures of the orders tests: kitchen staff, a customer account, orders."""

import pytest
from django.contrib.auth import get_user_model

from orders import services
from orders.models import Order, Step
from tests.factories import ORDER_FIELDS
from tests.retry.conftest import layer, worker  # noqa: F401  (the real worker, for the background work of orders)


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", is_staff=True)


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user("bob", is_staff=True)


@pytest.fixture
def customer(db):
    """An account that is not kitchen staff."""
    return get_user_model().objects.create_user("carol")


@pytest.fixture
def order(db) -> Order:
    return services.place_order(**ORDER_FIELDS)


@pytest.fixture
def step(order) -> Step:
    return order.steps.get(kind=Step.Kind.SCOOP)


def finish_all(order: Order, user) -> Order:
    """Claim and finish every step of the order, leaving it ready."""
    for step in order.steps.all():
        if step.status == Step.Status.TODO:
            services.claim_step(step.pk, user)
        if step.status != Step.Status.DONE:
            services.finish_step(step.pk, user)
    order.refresh_from_db()
    return order


@pytest.fixture
def ready_order(order, alice) -> Order:
    return finish_all(order, alice)
