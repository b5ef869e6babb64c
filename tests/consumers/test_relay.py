"""The relay: one member of each board group per process, one delivery per event, handed to every local board."""

import asyncio
from collections.abc import AsyncIterator, Callable, Collection
from typing import Any, cast

import pytest
import redis.asyncio
from asgiref.sync import sync_to_async
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from consumers import relay
from consumers.kitchen_board import KitchenBoardConsumer
from consumers.socket import GuardedSocket
from orders import events, services
from orders.models import Order, Step
from retry.outbox import outbox

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]
GROUP = "boards.relay-test"


async def members(layer: Any, group: str) -> int:
    """How many channels the layer holds in ``group``."""
    if not isinstance(layer, RedisChannelLayer):
        return len(layer.groups.get(group, {}))
    client = redis.asyncio.Redis.from_url(layer.hosts[layer.consistent_hash(group)]["address"])
    try:
        return await client.zcard(f"{layer.prefix}:group:{group}")
    finally:
        await client.aclose()


async def next_message(inbox: relay.Inbox, timeout: float = 5) -> dict[str, Any]:
    """The next message handed to ``inbox``, as the layer had it: the relay adds when it reached the process."""
    message = await asyncio.wait_for(inbox.get(), timeout)
    assert isinstance(message[relay.ARRIVED], float)
    return {key: value for key, value in message.items() if key != relay.ARRIVED}


async def next_event(inbox: relay.Inbox) -> dict[str, Any]:
    """The next group event, past the notice of a resumed feed that a moment of a busy Redis may cause."""
    while (message := await next_message(inbox))["type"] == relay.RESUMED:
        pass
    return message


def event(number: int) -> dict[str, Any]:
    return {"type": "order.changed", "version": 1, "order_id": 1, "change": "placed", "source": "test", "n": number}


def claimed_by(message: dict[str, Any]) -> str | None:
    scoop = next(step for step in message["order"]["steps"] if step["kind"] == "scoop")
    return cast(str | None, scoop["claimed_by"])


async def test_the_boards_of_a_process_get_each_event_through_one_delivery(
    connect: Callable[..., Any], alice: Any, bob: Any, layer: Any, order: Order
) -> None:
    boards = [board for board, _ in [await connect(user=alice) for _ in range(5)]]
    for board in boards:
        await board.receive()
    await asyncio.gather(*(board.drain() for board in boards))  # the order's own task events, if any
    feed = relay.relay_of(layer).feeds[events.KITCHEN_GROUP]
    assert await members(layer, events.KITCHEN_GROUP) == 1
    assert len(feed.inboxes) == 5
    received = feed.received
    scoop = await sync_to_async(order.steps.get)(kind=Step.Kind.SCOOP)
    await sync_to_async(services.claim_step)(scoop.pk, bob)
    assert await outbox.aflush()
    changed = await asyncio.gather(*(board.until(lambda message: message["type"] == "order") for board in boards))
    assert [claimed_by(message) for message in changed] == ["bob"] * 5
    assert feed.received == received + 1


async def test_the_boards_get_an_order_event_once_its_card_and_their_sessions_are_read(
    connect: Callable[..., Any], alice: Any, bob: Any, layer: Any, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    boards = [board for board, _ in [await connect(user=user) for user in (alice, alice, bob)]]
    for board in boards:
        await board.receive()
    await asyncio.gather(*(board.drain() for board in boards))
    feed = relay.relay_of(layer).feeds[events.KITCHEN_GROUP]
    sessions = {inbox.owner.session_key for inbox in feed.inboxes}
    seen: list[tuple[bool, list[bool]]] = []
    hand_out = feed.hand_out

    def spy(message: dict[str, Any]) -> None:
        if message["type"] == "order.changed":
            card = KitchenBoardConsumer.card_reads.memory()[0][order.pk]
            reads = [GuardedSocket.session_reads.memory()[0][key] for key in sessions]
            assert card.started is not None
            seen.append(
                (card.future.done(), [read.future.done() and (read.started or 0) >= card.started for read in reads])
            )
        hand_out(message)

    monkeypatch.setattr(feed, "hand_out", spy)
    scoop = await sync_to_async(order.steps.get)(kind=Step.Kind.SCOOP)
    await sync_to_async(services.claim_step)(scoop.pk, bob)
    assert await outbox.aflush()
    changed = await asyncio.gather(*(board.until(lambda message: message["type"] == "order") for board in boards))
    assert [claimed_by(message) for message in changed] == ["bob"] * 3
    assert len(sessions) == 3 and seen == [(True, [True, True, True])]  # a session per connection


async def test_boards_that_leave_get_nothing_more_and_the_last_takes_the_process_out(
    connect: Callable[..., Any], alice: Any, bob: Any, layer: Any, order: Order
) -> None:
    staying, _ = await connect(user=alice)
    leaving, _ = await connect(user=alice)
    await staying.receive()
    await leaving.receive()
    feed = relay.relay_of(layer).feeds[events.KITCHEN_GROUP]
    await leaving.communicator.disconnect()
    assert len(feed.inboxes) == 1
    scoop = await sync_to_async(order.steps.get)(kind=Step.Kind.SCOOP)
    await sync_to_async(services.claim_step)(scoop.pk, bob)
    assert claimed_by(await staying.until(lambda message: message["type"] == "order")) == "bob"
    await staying.communicator.disconnect()
    assert await members(layer, events.KITCHEN_GROUP) == 0
    assert not feed.inboxes and feed.channel is None and feed.task is None


async def test_a_listener_that_leaves_gets_nothing_more(layer: Any) -> None:
    hub = relay.relay_of(layer)
    staying, leaving = relay.Inbox(), relay.Inbox()
    await hub.join(staying, (GROUP,))
    await hub.join(leaving, (GROUP,))
    await layer.group_send(GROUP, event(1))
    assert await next_message(staying) == await next_message(leaving) == event(1)
    await hub.leave(leaving, (GROUP,))
    await layer.group_send(GROUP, event(2))
    assert await next_event(staying) == event(2)
    await hub.leave(staying, (GROUP,))
    left_over = [inbox.get_nowait() for inbox in (leaving, staying) for _ in range(inbox.qsize())]
    assert [message for message in left_over if message["type"] != relay.RESUMED] == []
    assert hub.feeds[GROUP].received == 2
    assert await members(layer, GROUP) == 0


async def test_a_consumer_that_ends_without_disconnecting_is_forgotten(
    connect: Callable[..., Any], alice: Any, layer: Any
) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    feed = relay.relay_of(layer).feeds[events.KITCHEN_GROUP]
    # A receive that times out cancels the consumer, as a server does with one that will not stop.
    with pytest.raises(asyncio.TimeoutError):
        await board.communicator.receive_output(timeout=0.1)
    await asyncio.gather(*relay.relay_of(layer).leaving)
    assert not feed.inboxes and feed.task is None
    assert await members(layer, events.KITCHEN_GROUP) == 0


async def test_a_message_waits_for_the_reads_its_listeners_need_and_keeps_its_place(layer: Any) -> None:
    hub = relay.relay_of(layer)
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    asked: list[tuple[int, int]] = []

    def prepare(message: dict[str, Any], inboxes: Collection[relay.Inbox]) -> list[asyncio.Future[Any]]:
        asked.append((message["n"], len(inboxes)))
        if message["n"] == 3:
            raise LookupError("a read that cannot start")  # the listeners then read for themselves
        return [gate] if message["n"] == 1 else []

    prepared, plain = relay.Inbox(), relay.Inbox()
    await hub.join(prepared, (GROUP,), prepare)
    await hub.join(plain, (GROUP,))
    for number in (1, 2, 3):
        await layer.group_send(GROUP, event(number))
    async with asyncio.timeout(5):
        while len(asked) < 3:
            await asyncio.sleep(0.01)
    assert asked == [(1, 2), (2, 2), (3, 2)]
    assert prepared.empty() and plain.empty()  # 2 and 3 need nothing, but wait behind 1
    gate.set_result(None)
    for inbox in (prepared, plain):
        assert [await next_event(inbox) for _ in range(3)] == [event(1), event(2), event(3)]
    await hub.leave(prepared, (GROUP,))
    assert not hub.feeds[GROUP].preparers
    await hub.leave(plain, (GROUP,))


@pytest.fixture
async def second_process(layer: Any) -> AsyncIterator[Any]:
    """The channel layer as another process sees it: on Redis, a layer of its own; in memory, the same one."""
    if not isinstance(layer, RedisChannelLayer):
        yield layer
        return
    other = RedisChannelLayer(**cast(dict[str, Any], settings.CHANNEL_LAYERS["default"]["CONFIG"]))
    yield other
    await other.close_pools()


async def test_two_processes_each_get_each_event_once(layer: Any, second_process: Any) -> None:
    here, there = relay.Relay(layer), relay.Relay(second_process)
    inboxes = {hub: [relay.Inbox() for _ in range(3)] for hub in (here, there)}
    for hub, listeners in inboxes.items():
        for inbox in listeners:
            await hub.join(inbox, (GROUP,))
    assert await members(layer, GROUP) == 2
    await layer.group_send(GROUP, event(1))
    for hub, listeners in inboxes.items():
        assert [await next_message(inbox) for inbox in listeners] == [event(1)] * 3
        assert hub.feeds[GROUP].received == 1
    for hub, listeners in inboxes.items():
        for inbox in listeners:
            await hub.leave(inbox, (GROUP,))
    assert await members(layer, GROUP) == 0


async def test_a_board_resyncs_when_the_relay_is_back_after_a_failure(
    connect: Callable[..., Any], alice: Any, layer: Any, order: Order
) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    await board.drain()  # the order's own task events, if any
    await sync_to_async(Step.objects.filter(order=order, kind=Step.Kind.SCOOP).update)(status=Step.Status.DONE)
    # What the relay hands out once the layer answers again after a failure.
    relay.relay_of(layer).feeds[events.KITCHEN_GROUP].hand_out({"type": relay.RESUMED, "group": events.KITCHEN_GROUP})
    repaired = await board.receive()
    assert (repaired["type"], repaired["change"]) == ("order", "resync")
    assert next(step for step in repaired["order"]["steps"] if step["kind"] == "scoop")["status"] == "done"
