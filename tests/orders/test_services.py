"""The order lifecycle through the services, every transition they refuse, and picking the next step for a staff
member by their preferences; two people at the same moment on a real PostgreSQL."""

import threading
from collections.abc import Callable
from typing import cast

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection

from orders import services
from orders.exceptions import (
    NotKitchenStaff,
    OrderNotFound,
    StepAlreadyClaimed,
    StepClaimedByOther,
    TransitionNotAllowed,
)
from orders.models import Order, StaffProfile, Step
from retry.models import TaskRecord
from tests.conftest import uses_services
from tests.factories import ORDER_FIELDS

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def test_place_order_creates_the_order_and_its_three_steps(order: Order) -> None:
    assert order.status == Order.Status.RECEIVED
    assert sorted(order.steps.values_list("kind", flat=True)) == ["decorate", "scoop", "spread"]
    assert set(order.steps.values_list("status", flat=True)) == {Step.Status.TODO}


def test_place_order_numbers_orders_one_after_another(order: Order) -> None:
    second = services.place_order(**ORDER_FIELDS)
    assert second.number == order.number + 1
    assert second.label == f"#{second.number:03d}"


def test_place_order_refuses_bad_fields_and_writes_nothing(db: None) -> None:
    with pytest.raises(ValidationError) as caught:
        services.place_order(**{**ORDER_FIELDS, "customer_email": "not-an-address", "flavour": "liquorice"})
    assert set(caught.value.message_dict) == {"customer_email", "flavour"}
    assert not Order.objects.exists()
    assert not Step.objects.exists()


def test_order_goes_through_its_whole_lifecycle(order: Order, alice: User, bob: User) -> None:
    scoop, spread, decorate = (order.steps.get(kind=kind) for kind in ("scoop", "spread", "decorate"))
    services.claim_step(scoop.pk, alice)
    order.refresh_from_db()
    assert order.status == Order.Status.IN_PROGRESS
    services.claim_step(spread.pk, bob)
    services.finish_step(scoop.pk, alice)
    services.finish_step(spread.pk, bob)
    services.claim_step(decorate.pk, alice)
    order.refresh_from_db()
    assert (order.status, order.ready_at) == (Order.Status.IN_PROGRESS, None)
    services.finish_step(decorate.pk, alice)
    order.refresh_from_db()
    assert order.status == Order.Status.READY
    assert order.ready_at is not None
    delivered = services.mark_delivered(order.pk, bob)
    assert delivered.status == Order.Status.DELIVERED
    assert delivered.delivered_at is not None and delivered.ready_at is not None
    assert delivered.delivered_at >= delivered.ready_at


def test_claim_step_records_who_and_when(step: Step, alice: User) -> None:
    claimed = services.claim_step(step.pk, alice)
    step.refresh_from_db()
    assert (step.status, step.claimed_by, step.done_at) == (Step.Status.CLAIMED, alice, None)
    assert step.claimed_at == claimed.claimed_at


def test_finish_step_records_when(step: Step, alice: User) -> None:
    services.claim_step(step.pk, alice)
    services.finish_step(step.pk, alice)
    step.refresh_from_db()
    assert step.status == Step.Status.DONE
    assert step.done_at is not None and step.claimed_at is not None
    assert step.done_at >= step.claimed_at


def test_release_step_makes_it_free_for_someone_else(step: Step, alice: User, bob: User) -> None:
    services.claim_step(step.pk, alice)
    released = services.release_step(step.pk, alice)
    assert (released.status, released.claimed_by, released.claimed_at) == (Step.Status.TODO, None, None)
    assert services.claim_step(step.pk, bob).claimed_by == bob
    step.order.refresh_from_db()
    assert step.order.status == Order.Status.IN_PROGRESS


def test_cancel_order_from_each_open_state(order: Order, alice: User) -> None:
    for status in Order.OPEN_STATUSES:
        placed = services.place_order(**ORDER_FIELDS)
        Order.objects.filter(pk=placed.pk).update(status=status)
        cancelled = services.cancel_order(placed.pk, alice)
        assert cancelled.status == Order.Status.CANCELLED
        assert cancelled.cancelled_at is not None


def test_two_users_claiming_the_same_step_one_wins(step: Step, alice: User, bob: User) -> None:
    services.claim_step(step.pk, alice)
    with pytest.raises(StepAlreadyClaimed, match=r"Step #\d{3} scoop is already claimed by alice\."):
        services.claim_step(step.pk, bob)
    step.refresh_from_db()
    assert step.claimed_by == alice


def test_claiming_ones_own_claimed_step_again_is_refused(step: Step, alice: User) -> None:
    services.claim_step(step.pk, alice)
    with pytest.raises(StepAlreadyClaimed):
        services.claim_step(step.pk, alice)


def test_claiming_a_done_step_is_refused(step: Step, alice: User, bob: User) -> None:
    services.claim_step(step.pk, alice)
    services.finish_step(step.pk, alice)
    with pytest.raises(TransitionNotAllowed, match="is done already"):
        services.claim_step(step.pk, bob)


@pytest.mark.parametrize("verb", ["release_step", "finish_step"])
def test_releasing_or_finishing_an_unclaimed_step_is_refused(step: Step, alice: User, verb: str) -> None:
    with pytest.raises(TransitionNotAllowed, match="is not claimed; claim it before you"):
        getattr(services, verb)(step.pk, alice)
    step.refresh_from_db()
    assert step.status == Step.Status.TODO


@pytest.mark.parametrize("verb", ["release", "finish"])
def test_releasing_or_finishing_someone_elses_step_is_refused(step: Step, alice: User, bob: User, verb: str) -> None:
    services.claim_step(step.pk, alice)
    with pytest.raises(StepClaimedByOther, match=rf"scoop is claimed by alice; only alice can {verb} it\."):
        getattr(services, f"{verb}_step")(step.pk, bob)
    step.refresh_from_db()
    assert (step.status, step.claimed_by) == (Step.Status.CLAIMED, alice)


@pytest.mark.parametrize("verb", ["release_step", "finish_step"])
def test_releasing_or_finishing_a_done_step_is_refused(step: Step, alice: User, verb: str) -> None:
    services.claim_step(step.pk, alice)
    services.finish_step(step.pk, alice)
    with pytest.raises(TransitionNotAllowed, match="is done already"):
        getattr(services, verb)(step.pk, alice)


@pytest.mark.parametrize("status", [Order.Status.READY, Order.Status.DELIVERED, Order.Status.CANCELLED])
@pytest.mark.parametrize("verb", ["claim_step", "release_step", "finish_step"])
def test_steps_of_a_closed_order_cannot_change(step: Step, alice: User, status: Order.Status, verb: str) -> None:
    services.claim_step(step.pk, alice)
    Order.objects.filter(pk=step.order_id).update(status=status)
    with pytest.raises(TransitionNotAllowed, match="its steps can no longer change"):
        getattr(services, verb)(step.pk, alice)


def test_steps_of_a_cancelled_order_cannot_be_claimed(order: Order, step: Step, alice: User) -> None:
    services.cancel_order(order.pk, alice)
    with pytest.raises(TransitionNotAllowed, match=r"Order #\d{3} is cancelled"):
        services.claim_step(step.pk, alice)


@pytest.mark.parametrize("status", [Order.Status.RECEIVED, Order.Status.IN_PROGRESS, Order.Status.CANCELLED])
def test_only_a_ready_order_can_be_delivered(order: Order, alice: User, status: Order.Status) -> None:
    Order.objects.filter(pk=order.pk).update(status=status)
    with pytest.raises(TransitionNotAllowed, match="only a ready order can be delivered"):
        services.mark_delivered(order.pk, alice)
    order.refresh_from_db()
    assert (order.status, order.delivered_at) == (status, None)


def test_delivering_twice_is_refused(ready_order: Order, alice: User) -> None:
    services.mark_delivered(ready_order.pk, alice)
    with pytest.raises(TransitionNotAllowed, match="is delivered"):
        services.mark_delivered(ready_order.pk, alice)


@pytest.mark.parametrize("status", [Order.Status.DELIVERED, Order.Status.CANCELLED])
def test_a_closed_order_cannot_be_cancelled(order: Order, alice: User, status: Order.Status) -> None:
    Order.objects.filter(pk=order.pk).update(status=status)
    with pytest.raises(TransitionNotAllowed, match="can no longer be cancelled"):
        services.cancel_order(order.pk, alice)
    order.refresh_from_db()
    assert (order.status, order.cancelled_at) == (status, None)


@pytest.mark.parametrize("verb", ["claim_step", "release_step", "finish_step"])
def test_step_services_refuse_non_staff(step: Step, customer: User, verb: str) -> None:
    with pytest.raises(NotKitchenStaff, match="carol is not staff"):
        getattr(services, verb)(step.pk, customer)


@pytest.mark.parametrize("verb", ["mark_delivered", "cancel_order"])
def test_order_services_refuse_non_staff(ready_order: Order, customer: User, verb: str) -> None:
    with pytest.raises(NotKitchenStaff):
        getattr(services, verb)(ready_order.pk, customer)
    ready_order.refresh_from_db()
    assert ready_order.status == Order.Status.READY


def test_an_inactive_staff_user_is_refused(step: Step, alice: User) -> None:
    alice.is_active = False
    with pytest.raises(NotKitchenStaff):
        services.claim_step(step.pk, alice)


@pytest.mark.parametrize("verb", ["claim_step", "release_step", "finish_step"])
def test_unknown_step_ids_are_refused(db: None, alice: User, verb: str) -> None:
    with pytest.raises(OrderNotFound, match="There is no step with id 999999"):
        getattr(services, verb)(999999, alice)


@pytest.mark.parametrize("verb", ["mark_delivered", "cancel_order"])
def test_unknown_order_ids_are_refused(db: None, alice: User, verb: str) -> None:
    with pytest.raises(OrderNotFound, match="There is no order with id 999999"):
        getattr(services, verb)(999999, alice)


def test_without_a_profile_the_usual_order_from_the_oldest_order(alice: User, order: Order) -> None:
    services.place_order(**ORDER_FIELDS)
    step = services.next_step_for(alice)
    assert step is not None
    assert (step.order_id, step.kind) == (order.pk, Step.Kind.SCOOP)


def test_the_preferred_kind_comes_first_even_from_a_newer_order(alice: User, order: Order) -> None:
    StaffProfile.objects.create(user=alice, preferred_steps="decorate,spread")
    services.claim_step(order.steps.get(kind=Step.Kind.DECORATE).pk, alice)
    newer = services.place_order(**ORDER_FIELDS)
    step = services.next_step_for(alice)
    assert step is not None
    assert (step.order_id, step.kind) == (newer.pk, Step.Kind.DECORATE)


def test_claim_next_step_claims_it_and_says_none_when_all_are_taken(alice: User, order: Order) -> None:
    claimed = [services.claim_next_step(alice) for _ in range(3)]
    assert {cast(Step, step).status for step in claimed} == {Step.Status.CLAIMED}
    assert services.claim_next_step(alice) is None


def test_steps_of_ready_or_cancelled_orders_are_never_picked(alice: User, order: Order) -> None:
    services.cancel_order(order.pk, alice)
    assert services.next_step_for(alice) is None


def test_saving_a_status_enqueues_nothing_and_each_service_enqueues_its_notifications(
    order: Order, alice: User
) -> None:
    def emails() -> list[str]:
        tasks = TaskRecord.objects.filter(task_path="orders.tasks.send_order_email", kwargs__order_id=order.pk)
        return sorted(tasks.values_list("kwargs__kind", flat=True))

    assert emails() == ["received"]
    services.save_status(order, Order.Status.CANCELLED, "cancelled_at")
    assert emails() == ["received"]
    services.enqueue_notifications(order)
    assert emails() == ["cancelled", "received"]


def racing[T: Callable[..., object]](test: T) -> T:
    """Marks a test of two people at the same moment: committed transactions in threads, on a real PostgreSQL."""
    test = pytest.mark.django_db(transaction=True)(test)
    return cast(
        T, pytest.mark.skipif(not uses_services(), reason="SQLite serialises writers; the race needs PostgreSQL")(test)
    )


def race(step_id: int, users: list[User]) -> list[object]:
    """Run claim_step for each user in its own thread and connection, all released at once."""
    start = threading.Barrier(len(users))
    outcomes: list[object] = [None] * len(users)

    def claim(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = services.claim_step(step_id, users[index]).claimed_by_id
        except StepAlreadyClaimed as error:
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(index,)) for index in range(len(users))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@racing
def test_one_of_two_concurrent_claims_wins(alice: User, bob: User) -> None:
    for _ in range(5):
        order = services.place_order(**ORDER_FIELDS)
        step = order.steps.get(kind=Step.Kind.SCOOP)
        outcomes = race(step.pk, [alice, bob])
        winners = [outcome for outcome in outcomes if isinstance(outcome, int)]
        losers = [outcome for outcome in outcomes if isinstance(outcome, StepAlreadyClaimed)]
        assert (len(winners), len(losers)) == (1, 1)
        step.refresh_from_db()
        assert step.claimed_by_id == winners[0]


def place_at_once(count: int) -> tuple[list[int], list[Exception]]:
    """Place ``count`` orders, each in its own thread and connection, all released at once: numbers and errors."""
    start = threading.Barrier(count)
    numbers: list[int] = []
    errors: list[Exception] = []

    def place() -> None:
        start.wait()
        try:
            numbers.append(services.place_order(**ORDER_FIELDS).number)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=place) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return numbers, errors


@racing
def test_orders_placed_at_once_get_distinct_numbers(db: None) -> None:
    numbers, errors = place_at_once(4)
    assert (sorted(numbers), errors) == ([1, 2, 3, 4], [])


@racing
def test_many_orders_at_once_all_get_placed(db: None) -> None:
    """Busy moments (a web process with many requests under way) must not turn orders away with an error."""
    count = 15
    numbers, errors = place_at_once(count)
    assert (sorted(numbers), errors) == (list(range(1, count + 1)), [])
