"""Two people claiming the same step at the same moment, on a real PostgreSQL."""

import threading

import pytest
from django.db import connection

from orders import services
from orders.exceptions import StepAlreadyClaimed
from orders.models import Step
from tests.conftest import uses_services
from tests.orders.conftest import ORDER_FIELDS

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not uses_services(), reason="SQLite serialises writers; the race needs PostgreSQL"),
]


def race(step_id: int, users: list) -> list[object]:
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


def test_one_of_two_concurrent_claims_wins(alice, bob):
    for _ in range(5):
        order = services.place_order(**ORDER_FIELDS)
        step = order.steps.get(kind=Step.Kind.SCOOP)
        outcomes = race(step.pk, [alice, bob])
        winners = [outcome for outcome in outcomes if isinstance(outcome, int)]
        losers = [outcome for outcome in outcomes if isinstance(outcome, StepAlreadyClaimed)]
        assert (len(winners), len(losers)) == (1, 1)
        step.refresh_from_db()
        assert step.claimed_by_id == winners[0]


def test_orders_placed_at_once_get_distinct_numbers(db):
    start = threading.Barrier(4)
    numbers: list[int] = []

    def place() -> None:
        start.wait()
        try:
            numbers.append(services.place_order(**ORDER_FIELDS).number)
        finally:
            connection.close()

    threads = [threading.Thread(target=place) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(numbers) == [1, 2, 3, 4]
