"""Order labels, the querysets that name the states, and kitchen preferences."""

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from orders.models import Order, StaffProfile, Step, parse_step_kinds

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("number", "label"), [(7, "#007"), (42, "#042"), (1234, "#1234")])
def test_label_pads_the_number_to_three_digits(number: int, label: str) -> None:
    assert Order(number=number).label == label


def test_open_names_received_in_progress_and_ready(order: Order) -> None:
    by_status: dict[str, Order] = {}
    for status in Order.Status.values:
        by_status[status] = Order.objects.create(
            number=order.number + 1 + len(by_status), customer_name="x", customer_email="x@example.com", status=status
        )
    Order.objects.filter(pk=order.pk).delete()
    assert set(Order.objects.open()) == {by_status[s] for s in ("received", "in_progress", "ready")}
    assert set(Order.objects.closed()) == {by_status[s] for s in ("delivered", "cancelled")}
    assert list(Order.objects.ready()) == [by_status["ready"]]


def test_step_querysets_name_the_states(order: Order, step: Step, alice: User) -> None:
    from orders import services

    services.claim_step(step.pk, alice)
    assert list(Step.objects.claimed()) == [step]
    assert Step.objects.todo().count() == 2
    assert not Step.objects.done().exists()


def test_parse_step_kinds_trims_and_lowercases() -> None:
    assert parse_step_kinds(" Scoop, decorate ,,") == ["scoop", "decorate"]


def test_staff_profile_puts_preferred_steps_first(alice: User) -> None:
    profile = StaffProfile(user=alice, preferred_steps="decorate")
    assert profile.step_order == ["decorate", "scoop", "spread"]


def test_staff_profile_clean_normalises_the_list(alice: User) -> None:
    profile = StaffProfile(user=alice, preferred_steps=" SCOOP , spread")
    profile.full_clean()
    assert profile.preferred_steps == "scoop,spread"


@pytest.mark.parametrize("value", ["scoop,bake", "scoop,scoop"])
def test_staff_profile_refuses_unknown_or_repeated_kinds(alice: User, value: str) -> None:
    with pytest.raises(ValidationError, match="at most once"):
        StaffProfile(user=alice, preferred_steps=value).full_clean()
