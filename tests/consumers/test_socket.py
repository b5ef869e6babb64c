"""Who may use the kitchen board, and what a board does with bad or too many frames."""

from collections.abc import Callable
from typing import Any, cast

import pytest
from asgiref.sync import sync_to_async
from django.contrib.sessions.models import Session
from pytest_django import Settings

from consumers import protocol
from orders.models import Order, Step
from tests.consumers.conftest import Board, make_user

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


async def closed_with(board: Board) -> int:
    message = await board.communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return cast(int, message["code"])


async def test_an_anonymous_visitor_is_closed_out_before_any_data(connect: Callable[..., Any], order: Order) -> None:
    board, _ = await connect()
    assert await closed_with(board) == protocol.NOT_LOGGED_IN


async def test_a_user_who_is_not_staff_is_closed_out(connect: Callable[..., Any], order: Order) -> None:
    carol = await sync_to_async(make_user)("carol")
    board, _ = await connect(user=carol)
    assert await closed_with(board) == protocol.NOT_ALLOWED


async def test_a_foreign_origin_is_refused_at_the_handshake_even_with_a_staff_cookie(
    connect: Callable[..., Any], alice: Any
) -> None:
    _, accepted = await connect(user=alice, origin="https://evil.example")
    assert not accepted


async def test_a_user_deactivated_elsewhere_loses_access_on_the_next_action(
    connect: Callable[..., Any], alice: Any, order: Order
) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    alice.is_active = False
    await sync_to_async(alice.save)()
    scoop = await sync_to_async(order.steps.get)(kind="scoop")
    await board.send("claim", step_id=scoop.pk)
    reply = await board.reply()
    assert (reply["type"], reply["code"]) == ("error", "access_lost")
    assert await closed_with(board) == protocol.NOT_LOGGED_IN
    await sync_to_async(scoop.refresh_from_db)()
    assert scoop.status == Step.Status.TODO


async def test_a_user_logged_out_elsewhere_loses_access_on_the_next_action(
    connect: Callable[..., Any], alice: Any, order: Order
) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    await sync_to_async(Session.objects.all().delete)()
    await board.send("cancel", order_id=order.pk)
    assert (await board.reply())["code"] == "access_lost"
    assert await closed_with(board) == protocol.NOT_LOGGED_IN


async def test_staff_rights_taken_away_close_the_board_at_the_next_resync(
    connect: Callable[..., Any], alice: Any, order: Order, settings: Settings
) -> None:
    settings.BOARD_RESYNC_INTERVAL = 0.2
    board, _ = await connect(user=alice)
    await board.receive()
    alice.is_staff = False
    await sync_to_async(alice.save)()
    assert await closed_with(board) == protocol.NOT_ALLOWED


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"type": "dance", "version": 1}', "unknown_type"),
        ('{"version": 1}', "unknown_type"),
        ('{"type": "claim", "version": 2, "step_id": 1}', "bad_version"),
        ('{"type": "claim", "step_id": 1}', "bad_version"),
        ('{"type": "claim", "version": 1}', "bad_field"),
        ('{"type": "claim", "version": 1, "step_id": "1"}', "bad_field"),
        ('{"type": "claim", "version": 1, "step_id": true}', "bad_field"),
        ('{"type": "cancel", "version": 1, "order_id": -4}', "bad_field"),
        ('{"type": "claim", "version": 1, "step_id": 99999}', "not_found"),
        ('{"type": "deliver", "version": 1, "order_id": 99999}', "not_found"),
    ],
)
async def test_a_bad_frame_gets_a_clear_error_and_the_board_goes_on(
    connect: Callable[..., Any], alice: Any, order: Order, frame: str, code: str
) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    await board.communicator.send_to(text_data=frame)
    reply = await board.reply()
    assert (reply["type"], reply["code"]) == ("error", code)
    assert reply["message"]
    await board.send("snapshot")
    assert (await board.receive())["type"] == "snapshot"


async def test_a_binary_frame_gets_an_error(connect: Callable[..., Any], alice: Any) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    await board.communicator.send_to(bytes_data=b"\x00\x01")
    assert (await board.reply())["code"] == "binary"


async def test_an_oversize_frame_closes_the_socket(connect: Callable[..., Any], alice: Any, order: Order) -> None:
    board, _ = await connect(user=alice)
    await board.receive()
    await board.communicator.send_to(text_data='{"type": "snapshot", "version": 1, "pad": "' + "x" * 5000 + '"}')
    assert (await board.reply())["code"] == "too_large"
    assert await closed_with(board) == protocol.TOO_LARGE


async def test_a_flood_of_actions_is_slowed_down_then_cut_off(
    connect: Callable[..., Any], alice: Any, order: Order, settings: Settings
) -> None:
    settings.BOARD_RATE_LIMIT = (3, 0.001)
    board, _ = await connect(user=alice)
    await board.receive()
    for _ in range(4):
        await board.send("snapshot")
    for _ in range(3):
        assert (await board.receive())["type"] == "snapshot"
    limited = await board.receive()
    assert (limited["type"], limited["code"]) == ("error", "rate_limited")
    for _ in range(40):
        await board.send("snapshot")
    while (message := await board.communicator.receive_output(timeout=5))["type"] == "websocket.send":
        pass
    assert message == {"type": "websocket.close", "code": protocol.FLOODING}
