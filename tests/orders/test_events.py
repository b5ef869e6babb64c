"""Each service announces its change through orders.events once the transaction commits."""

import logging

import pytest
from django.contrib.auth.models import User
from pytest_django import DjangoCaptureOnCommitCallbacks

from orders import events, services
from orders.exceptions import TransitionNotAllowed
from orders.models import Order
from tests.factories import ORDER_FIELDS
from tests.orders.conftest import finish_all

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def changes(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(vars(record)["order_id"], vars(record)["change"]) for record in caplog.records if record.name == "orders"]


def test_each_change_is_logged_after_commit(
    caplog: pytest.LogCaptureFixture, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks, alice: User
) -> None:
    caplog.set_level(logging.INFO, logger="orders")
    with django_capture_on_commit_callbacks(execute=True):
        order = services.place_order(**ORDER_FIELDS)
        finish_all(order, alice)
        services.mark_delivered(order.pk, alice)
    expected = ["placed"] + ["step_claimed", "step_finished"] * 3 + ["ready", "delivered"]
    assert changes(caplog) == [(order.pk, change) for change in expected]


def test_nothing_is_announced_before_commit(
    caplog: pytest.LogCaptureFixture, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks, alice: User
) -> None:
    caplog.set_level(logging.INFO, logger="orders")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order = services.place_order(**ORDER_FIELDS)
        services.cancel_order(order.pk, alice)
    # The enqueued tasks add callbacks of their own (send the task message, publish the task event).
    assert len([callback for callback in callbacks if callback.__qualname__.startswith("announce.")]) == 2
    assert changes(caplog) == []


def test_a_refused_change_announces_nothing(
    order: Order,
    alice: User,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    step = order.steps.first()
    assert step is not None
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(TransitionNotAllowed):
        services.finish_step(step.pk, alice)
    assert callbacks == []


def test_the_log_line_names_order_and_change(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="orders")
    events.order_changed(42, "ready")
    assert caplog.records[-1].getMessage() == "Order id=42 change=ready"
