"""Picking the next step for a staff member by their preferences."""

import pytest

from orders import picking, services
from orders.models import StaffProfile, Step
from tests.orders.conftest import ORDER_FIELDS

pytestmark = pytest.mark.django_db


def test_without_a_profile_the_usual_order_from_the_oldest_order(alice, order):
    services.place_order(**ORDER_FIELDS)
    step = picking.next_step_for(alice)
    assert (step.order_id, step.kind) == (order.pk, Step.Kind.SCOOP)


def test_the_preferred_kind_comes_first_even_from_a_newer_order(alice, order):
    StaffProfile.objects.create(user=alice, preferred_steps="decorate,spread")
    services.claim_step(order.steps.get(kind=Step.Kind.DECORATE).pk, alice)
    newer = services.place_order(**ORDER_FIELDS)
    step = picking.next_step_for(alice)
    assert (step.order_id, step.kind) == (newer.pk, Step.Kind.DECORATE)


def test_claim_next_step_claims_it_and_says_none_when_all_are_taken(alice, order):
    claimed = [picking.claim_next_step(alice) for _ in range(3)]
    assert {step.status for step in claimed} == {Step.Status.CLAIMED}
    assert picking.claim_next_step(alice) is None


def test_steps_of_ready_or_cancelled_orders_are_never_picked(alice, order):
    services.cancel_order(order.pk, alice)
    assert picking.next_step_for(alice) is None
