"""Fixtures of the orders tests: kitchen staff, a customer account, orders."""

from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.cache import cache
from pytest_django import Settings

from orders import services
from orders.models import Order, Step
from tests.factories import ORDER_FIELDS
from tests.orders.webhooks.receiver import Receiver


@pytest.fixture
def alice(db: None) -> User:
    return get_user_model().objects.create_user("alice", is_staff=True)


@pytest.fixture
def bob(db: None) -> User:
    return get_user_model().objects.create_user("bob", is_staff=True)


@pytest.fixture
def customer(db: None) -> User:
    """An account that is not kitchen staff."""
    return get_user_model().objects.create_user("carol")


@pytest.fixture
def order(db: None) -> Order:
    return services.place_order(**ORDER_FIELDS)


@pytest.fixture
def step(order: Order) -> Step:
    return order.steps.get(kind=Step.Kind.SCOOP)


def finish_all(order: Order, user: User) -> Order:
    """Claim and finish every step of the order, leaving it ready."""
    for step in order.steps.all():
        if step.status == Step.Status.TODO:
            services.claim_step(step.pk, user)
        if step.status != Step.Status.DONE:
            services.finish_step(step.pk, user)
    order.refresh_from_db()
    return order


@pytest.fixture
def ready_order(order: Order, alice: User) -> Order:
    return finish_all(order, alice)


SECRET = "whsec_" + "c2Nvb3Bib2FyZC10ZXN0LXNlY3JldC0zMi1ieXRlcyE="


@pytest.fixture
def receiver(settings: Settings) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1, reachable through the allow-list, verifying signatures with the shared secret."""
    with Receiver(SECRET) as running:
        settings.WEBHOOK_SECRETS = [SECRET]
        settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        settings.WEBHOOK_ALLOWED_PORTS = [80, 443, running.port]
        settings.WEBHOOK_TIMEOUT = 2.0
        yield running


@pytest.fixture(autouse=True)
def fresh_cache(settings: Settings) -> None:
    """A cache of each test's own, so rate-limit counters start at zero (the shared Redis is never flushed)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "orders"}}
    cache.clear()
