"""What every board does (consumers.base_board), through the kitchen board: numbered events, snapshots on request,
repair of lost and late events, one shared read per change, the periodic resync."""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from pytest_django import Settings

from consumers import base_board, cards
from consumers.kitchen_board import KitchenBoardConsumer
from orders import events, services
from orders.models import Order, Step
from tests.consumers.conftest import step_ids, step_of

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


async def test_a_change_made_elsewhere_arrives_as_the_next_numbered_event(
    connect: Callable[..., Any], alice: Any, bob: Any, order: Order
) -> None:
    board, _ = await connect(user=alice)
    snapshot = await board.receive()
    steps = await step_ids(order)
    await sync_to_async(services.claim_step)(steps["scoop"], bob)
    event = await board.receive()
    assert event["type"] == "order" and event["version"] == 1
    assert event["seq"] == snapshot["seq"] + 1
    assert event["change"] == "step_claimed"
    assert step_of(event["order"], "scoop")["claimed_by"] == "bob"
    assert event["order"]["status"] == "in_progress"


async def test_asking_for_a_snapshot_sends_a_fresh_one(connect: Callable[..., Any], alice: Any, order: Order) -> None:
    board, _ = await connect(user=alice)
    first = await board.receive()
    first["seq"] += len(await board.drain())  # the order's own task events, if any
    await sync_to_async(Order.objects.filter(pk=order.pk).update)(status=Order.Status.CANCELLED)
    await board.send("snapshot")
    fresh = await board.receive()
    assert fresh["type"] == "snapshot" and fresh["seq"] == first["seq"] + 1
    assert fresh["orders"] == []


async def test_a_lost_event_brings_what_changed_meanwhile(
    connect: Callable[..., Any], alice: Any, layer: Any, order: Order
) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    event = {"type": "order.changed", "version": 1, "order_id": order.pk, "change": "placed", "source": "elsewhere"}
    await layer.group_send(events.KITCHEN_GROUP, {**event, "n": 1})
    assert await board.quiet()  # the order is unchanged, so nothing to send
    await sync_to_async(Order.objects.filter(pk=order.pk).update)(status=Order.Status.CANCELLED)
    # Number 2 (about this order) never arrives; number 3 is about an order the board does not show.
    await layer.group_send(events.KITCHEN_GROUP, {**event, "order_id": order.pk + 1, "n": 3})
    removed = await board.receive()
    assert (removed["type"], removed["order_id"], removed["change"]) == ("order.removed", order.pk, "resync")


@pytest.mark.parametrize("numbers", [(5, 4, 5), (1, 3, 2), (7, 9, 8, 10)])
async def test_a_late_or_repeated_event_changes_nothing(
    connect: Callable[..., Any], alice: Any, layer: Any, order: Order, numbers: tuple[int, ...]
) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    event = {"type": "order.changed", "version": 1, "order_id": order.pk, "change": "placed", "source": "elsewhere"}
    for number in numbers:
        await layer.group_send(events.KITCHEN_GROUP, {**event, "n": number})
    assert await board.quiet(1.0)


async def test_a_replayed_older_event_never_brings_back_the_older_card(
    connect: Callable[..., Any], alice: Any, bob: Any, layer: Any, order: Order
) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    scoop = Step.objects.filter(pk=(await step_ids(order))["scoop"])
    event = {"type": "order.changed", "version": 1, "order_id": order.pk, "change": "step_claimed", "source": "here"}
    await sync_to_async(scoop.update)(status=Step.Status.CLAIMED, claimed_by=bob)
    await layer.group_send(events.KITCHEN_GROUP, {**event, "n": 1})
    assert step_of((await board.receive())["order"], "scoop")["claimed_by"] == "bob"
    await sync_to_async(scoop.update)(status=Step.Status.TODO, claimed_by=None)
    await layer.group_send(events.KITCHEN_GROUP, {**event, "change": "step_released", "n": 2})
    assert step_of((await board.receive())["order"], "scoop")["claimed_by"] is None
    await layer.group_send(events.KITCHEN_GROUP, {**event, "n": 1})
    assert await board.quiet(1.0)


async def test_many_boards_share_one_read_of_the_changed_card(
    connect: Callable[..., Any], alice: Any, bob: Any, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = []

    def counted(order_id: int) -> dict[str, Any] | None:
        reads.append(order_id)
        return cards.kitchen_card_of(order_id)

    monkeypatch.setattr(KitchenBoardConsumer.card_reads, "function", counted)
    boards = [board for board, _ in [await connect(user=alice) for _ in range(20)]]
    for board in boards:
        await board.receive()
    await asyncio.gather(*(board.drain() for board in boards))  # the order's own task events, if any
    reads.clear()
    await sync_to_async(services.claim_step)((await step_ids(order))["scoop"], bob)
    changed = await asyncio.gather(*(board.until(lambda message: message["type"] == "order") for board in boards))
    assert {step_of(event["order"], "scoop")["claimed_by"] for event in changed} == {"bob"}
    assert reads == [order.pk]


async def test_the_periodic_resync_repairs_a_change_nobody_announced(
    connect: Callable[..., Any], alice: Any, order: Order, settings: Settings
) -> None:
    settings.BOARD_RESYNC_INTERVAL = 0.2
    board, _ = await connect(user=alice)
    await board.receive()
    await board.drain()  # the order's own task events, if any
    scoop = (await step_ids(order))["scoop"]
    await sync_to_async(Step.objects.filter(pk=scoop).update)(status=Step.Status.DONE)
    event = await board.receive()
    assert (event["type"], event["change"]) == ("order", "resync")
    assert step_of(event["order"], "scoop")["status"] == "done"
    await sync_to_async(Order.objects.filter(pk=order.pk).update)(status=Order.Status.DELIVERED)
    removed = await board.receive()
    assert (removed["type"], removed["order_id"], removed["seq"]) == ("order.removed", order.pk, event["seq"] + 1)


@pytest.mark.parametrize(
    ("connected", "resyncs_at"),
    [
        ((0.0, 0.5, 0.99), 16.0),  # a moment per second of a 15 s interval: boards of one second, one moment
        ((3.1, 3.5, 3.9), 19.0),
        ((86_399.2, 86_399.9), 86_415.0),  # late in the monotonic clock's life
    ],
)
def test_boards_that_connected_in_one_stretch_resync_at_one_moment(
    connected: tuple[float, ...], resyncs_at: float
) -> None:
    # Boards resyncing at one moment share one read of the board and of each session; each at a moment of its own,
    # 2,500 boards of a process read hundreds of times a second.
    assert base_board.RESYNC_MOMENTS == 15
    for now in connected:
        delay = base_board.resync_delay(15.0, now)
        assert delay >= 15.0 - 1e-6
        assert now + delay == pytest.approx(resyncs_at)
