"""The kitchen board over a websocket: its snapshot, the staff's actions, and the state of each order's tasks."""

import asyncio
import io
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from orders import services
from orders.models import Order, StaffProfile
from retry.worker.process import RetryWorker
from tests.consumers.conftest import make_user, step_ids, step_of
from tests.consumers.tasks import send_order_email
from tests.factories import ORDER_FIELDS

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@sync_to_async
def status_of(order: Order) -> str:
    order.refresh_from_db()
    return order.status


def email_task_of(card: dict[str, Any] | None) -> dict[str, Any] | None:
    tasks = [task for task in (card or {"tasks": []})["tasks"] if task["task_name"] == send_order_email.module_path]
    return tasks[0] if tasks else None


def retrying(card: dict[str, Any] | None) -> bool:
    task = email_task_of(card)
    return bool(task and task["attempt"] == 1 and task["status"] == "READY")


async def test_connect_sends_a_snapshot_of_every_open_order(
    connect: Callable[..., Any], alice: Any, order: Order
) -> None:
    await sync_to_async(services.place_order)(**ORDER_FIELDS)
    board, accepted = await connect(user=alice)
    snapshot = await board.receive()
    assert accepted
    assert snapshot["type"] == "snapshot" and snapshot["version"] == 1 and snapshot["board"] == "kitchen"
    assert snapshot["user"] == "alice"
    assert [card["label"] for card in snapshot["orders"]] == ["#001", "#002"]
    card = snapshot["orders"][0]
    assert [step["kind"] for step in card["steps"]] == ["scoop", "spread", "decorate"]
    assert {step["status"] for step in card["steps"]} == {"todo"}
    assert card["created_at"] and isinstance(card["tasks"], list)


async def test_closed_orders_are_not_on_the_board(connect: Callable[..., Any], alice: Any, order: Order) -> None:
    await sync_to_async(services.cancel_order)(order.pk, alice)
    board, _ = await connect(user=alice)
    assert (await board.receive())["orders"] == []


async def test_a_new_order_appears_on_an_open_board(connect: Callable[..., Any], alice: Any) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    order = await sync_to_async(services.place_order)(**ORDER_FIELDS)
    event = await board.until(lambda message: message["type"] == "order")
    assert event["order"]["id"] == order.pk and event["change"] in ("placed", "task.enqueued")
    assert "customer_email" not in event["order"]


async def test_claim_finish_and_deliver_from_the_board(connect: Callable[..., Any], alice: Any, order: Order) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    for kind, step_id in (await step_ids(order)).items():
        await board.send("claim", step_id=step_id, ref=f"claim-{kind}")
        reply = await board.reply()
        assert (reply["type"], reply["ref"]) == ("ok", f"claim-{kind}")
        await board.send("finish", step_id=step_id)
        assert (await board.reply())["message"] == f"#001 {kind} is done."
    # The last step's event already reads the order as ready, so the "ready" event finds nothing new.
    await board.until(lambda message: message.get("order", {}).get("status") == "ready")
    await board.send("deliver", order_id=order.pk)
    assert (await board.reply())["type"] == "ok"
    removed = await board.until(lambda message: message["type"] in ("order.removed", "snapshot"))
    assert removed.get("order_id", order.pk) == order.pk and removed.get("orders") in (None, [])
    assert await status_of(order) == "delivered"


async def test_release_gives_the_step_back(connect: Callable[..., Any], alice: Any, order: Order) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    scoop = (await step_ids(order))["scoop"]
    await board.send("claim", step_id=scoop)
    await board.reply()
    await board.until(lambda message: message["type"] == "order" and step_of(message["order"], "scoop")["claimed_by"])
    await board.send("release", step_id=scoop)
    assert (await board.reply())["message"] == "You released #001 scoop."
    released = await board.until(lambda message: message["type"] == "order")
    assert step_of(released["order"], "scoop")["status"] == "todo"
    assert step_of(released["order"], "scoop")["claimed_by"] is None


async def test_cancel_from_the_board(connect: Callable[..., Any], alice: Any, order: Order) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    await board.send("cancel", order_id=order.pk)
    assert (await board.reply())["message"] == "#001 is cancelled."
    assert await status_of(order) == "cancelled"


async def test_a_refused_transition_is_a_clear_error_and_changes_nothing(
    connect: Callable[..., Any], alice: Any, order: Order
) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    await board.send("deliver", order_id=order.pk, ref="d1")
    reply = await board.reply()
    assert (reply["type"], reply["code"], reply["ref"], reply["action"]) == ("error", "not_allowed", "d1", "deliver")
    assert "only a ready order can be delivered" in reply["message"]
    assert await status_of(order) == "received"


async def test_finishing_someone_elses_step_is_refused(
    connect: Callable[..., Any], alice: Any, bob: Any, order: Order
) -> None:
    scoop = (await step_ids(order))["scoop"]
    await sync_to_async(services.claim_step)(scoop, bob)
    board, _ = await connect(user=alice)
    await board.receive()
    await board.send("finish", step_id=scoop)
    reply = await board.reply()
    assert reply["code"] == "claimed_by_other"
    assert reply["message"] == "Step #001 scoop is claimed by bob; only bob can finish it."


async def test_two_staff_claiming_the_same_step_at_once_one_wins(
    connect: Callable[..., Any], alice: Any, bob: Any, order: Order
) -> None:
    scoop = (await step_ids(order))["scoop"]
    alices, _ = await connect(user=alice)
    bobs, _ = await connect(user=bob)
    await alices.receive()
    await bobs.receive()
    await asyncio.gather(alices.send("claim", step_id=scoop), bobs.send("claim", step_id=scoop))
    replies = await asyncio.gather(alices.reply(), bobs.reply())
    assert sorted(reply["type"] for reply in replies) == ["error", "ok"]
    loser = next(reply for reply in replies if reply["type"] == "error")
    winner = "alice" if replies[0]["type"] == "ok" else "bob"
    assert loser["code"] == "already_claimed"
    assert loser["message"] == f"Step #001 scoop is already claimed by {winner}."


async def test_next_for_me_follows_the_staff_profile(connect: Callable[..., Any], alice: Any, order: Order) -> None:
    await sync_to_async(StaffProfile.objects.create)(user=alice, preferred_steps="decorate,scoop")
    board, _ = await connect(user=alice)
    await board.receive()
    await board.send("next")
    assert (await board.reply())["message"] == "Next for you: #001 decorate."
    await board.send("next")
    assert (await board.reply())["message"] == "Next for you: #001 scoop."
    await board.send("next")
    assert (await board.reply())["message"] == "Next for you: #001 spread."
    await board.send("next")
    reply = await board.reply()
    assert (reply["type"], reply["code"]) == ("error", "not_allowed")


async def test_an_orders_background_task_shows_its_retry(
    connect: Callable[..., Any], alice: Any, order: Order, worker: RetryWorker
) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    await sync_to_async(send_order_email.enqueue)(order_id=order.pk)
    event = await board.until(lambda message: retrying(message.get("order")), timeout=15)
    assert event["change"].startswith("task.")
    task = email_task_of(event["order"])
    assert task is not None
    assert (task["name"], task["queue"], task["status"]) == ("e-mail", "emails", "READY")
    assert (task["attempt"], task["max_attempts"], task["error"]) == (1, 5, "503 from endpoint")
    assert task["task_name"] == "tests.consumers.tasks.send_order_email"
    assert task["run_after"] > event["order"]["created_at"]


async def test_tasks_of_other_orders_are_not_shown(
    connect: Callable[..., Any], alice: Any, worker: RetryWorker
) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    await sync_to_async(send_order_email.enqueue)(order_id=999)
    assert await board.quiet(1.0)


async def test_a_non_staff_users_snapshot_never_leaves(connect: Callable[..., Any], order: Order) -> None:
    customer = await sync_to_async(make_user)("carol")
    board, _ = await connect(user=customer)
    assert await board.communicator.receive_output(timeout=2) == {"type": "websocket.close", "code": 4403}


def test_the_demo_cooks_may_take_every_board_action() -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from consumers.kitchen_board import PERMISSIONS

    call_command("seed_demo", stdout=io.StringIO())
    for cook in ("ana", "ben"):
        assert get_user_model().objects.get(username=cook).has_perms(PERMISSIONS.values())


async def test_the_task_changes_of_one_moment_show_each_order_once(
    connect: Callable[..., Any], alice: Any, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An e-mail task is often enqueued, started and done within one moment of events: at 50 orders a second, a
    # read and a frame per event and board kept the web process busy.
    from channels.layers import get_channel_layer

    from consumers import cards
    from consumers.kitchen_board import KitchenBoardConsumer
    from retry import conf

    reads: list[int] = []

    def counted(order_id: int) -> dict[str, Any] | None:
        reads.append(order_id)
        return cards.kitchen_card_of(order_id)

    monkeypatch.setattr(KitchenBoardConsumer.card_reads, "function", counted)
    board, _ = await connect(user=alice)
    await board.receive()
    results = [await sync_to_async(send_order_email.enqueue)(order_id=order.pk) for _ in range(3)]
    await board.drain()
    reads.clear()
    events = [
        {"type": "task.changed", "version": 1, "task_id": result.id, "change": change}
        for result in results
        for change in ("started", "succeeded")
    ]
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(conf.get().EVENTS_GROUP, {"type": "task.changes", "events": events})
    await board.drain()
    assert reads == [order.pk]


async def test_a_task_events_card_is_read_before_the_boards_get_the_event(
    connect: Callable[..., Any], alice: Any, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each board awaiting a read of its own start cost a wait and a turn of the loop per board and event: with 500
    # boards, five times what an order event cost daphne.
    from consumers.kitchen_board import KitchenBoardConsumer

    found: list[bool] = []
    shared = KitchenBoardConsumer.card_reads

    async def noted(moment: float, key: Any) -> tuple[float, Any]:  # the boards' read of a task event's card
        read = shared.read_since(moment, key)
        found.append(read.future.done())
        return await read.result()

    monkeypatch.setattr(shared, "since", noted)
    boards = [board for board, _ in [await connect(user=alice) for _ in range(5)]]
    for board in boards:
        await board.receive()
    await sync_to_async(send_order_email.enqueue)(order_id=order.pk)  # a task no card showed yet
    await asyncio.gather(*(board.until(lambda message: email_task_of(message.get("order"))) for board in boards))
    await sync_to_async(send_order_email.enqueue)(order_id=order.pk)  # and one after the boards know the order's
    await asyncio.gather(*(board.drain() for board in boards))
    assert found and all(found), found


def test_the_cards_of_many_orders_take_three_queries(order: Order, django_assert_num_queries: Any) -> None:
    # docs/boards.md: the card reads waiting in the database thread are one read of all their orders.
    from consumers import cards

    others = [services.place_order(**{**ORDER_FIELDS, "customer_email": f"c{n}@example.com"}) for n in range(3)]
    ids = [order.pk, *(other.pk for other in others), 10**9]
    with django_assert_num_queries(3):
        found = cards.kitchen_cards_of(ids)
    assert [card is not None for card in found.values()] == [True, True, True, True, False]
