"""Hostile frames on every socket, against real daphne: a clear error, a close code daphne can send, no traceback."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import websockets
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection

from consumers import protocol
from tests.live.conftest import Daphne, close_code, receive, tracebacks

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

VIEW_TASKS = "retry.view_taskrecord"
#: Each socket, the message that asks it for fresh data, and the type of its answer.
SOCKETS = {
    "kitchen": ("/ws/kitchen/", '{"type": "snapshot", "version": 1}', "snapshot"),
    "pickup": ("/ws/pickup/", '{"type": "snapshot", "version": 1}', "snapshot"),
    "dashboard": ("/ws/dashboard/", '{"type": "refresh", "version": 1}', "dashboard.figures"),
}


@pytest.fixture
async def open_socket(
    live: Daphne, staff: Callable[..., Awaitable[Any]]
) -> Callable[[str], Awaitable[ClientConnection]]:
    """open_socket(name) → a client of that socket, logged in as staff who may watch tasks, its first message read."""
    user = await staff("olga", VIEW_TASKS)

    async def open_named(name: str) -> ClientConnection:
        path, _, first = SOCKETS[name]
        client = await live.connect(path, user)
        assert (await receive(client))["type"] == first
        return client

    return open_named


@pytest.mark.parametrize("name", SOCKETS)
async def test_a_frame_over_the_limit_closes_with_a_code_daphne_sends(
    live: Daphne, open_socket: Callable[[str], Awaitable[ClientConnection]], name: str
) -> None:
    mark = len(live.log())
    client = await open_socket(name)
    await client.send(json.dumps({"type": "snapshot", "version": 1, "pad": "x" * protocol.MAX_FRAME}))
    assert (await receive(client))["code"] == "too_large"
    assert await close_code(client) == protocol.TOO_LARGE
    await asyncio.sleep(0.2)
    assert tracebacks(live.log()[mark:]) == []


#: Frames that are not a message the socket takes, and the error code each gets.
HOSTILE: list[tuple[str | bytes, str]] = [
    ("{not json", "bad_json"),
    ("[1, 2]", "bad_json"),
    ('"\\ud800"', "bad_json"),
    ('{"type": "\\ud800\\u0000", "version": 1}', "unknown_type"),
    ('{"type": "dance", "version": 1}', "unknown_type"),
    ('{"type": null}', "unknown_type"),
    (b"\x00\x01", "binary"),
]


@pytest.mark.parametrize("name", SOCKETS)
async def test_hostile_frames_get_an_error_and_the_socket_goes_on(
    live: Daphne, open_socket: Callable[[str], Awaitable[ClientConnection]], name: str
) -> None:
    mark = len(live.log())
    client = await open_socket(name)
    _, ask, answer = SOCKETS[name]
    for frame, code in HOSTILE:
        await client.send(frame)
        reply = await receive(client)
        assert (reply["type"], reply["code"]) == ("error", code), frame
    await client.send(ask)
    assert (await receive(client))["type"] == answer
    await client.close()
    assert tracebacks(live.log()[mark:]) == []


async def test_an_unknown_path_is_refused_without_a_traceback(live: Daphne) -> None:
    mark = len(live.log())
    with pytest.raises(websockets.InvalidStatus) as refusal:
        await live.connect("/ws/nowhere/")
    assert refusal.value.response.status_code == 403
    await asyncio.sleep(0.2)
    assert tracebacks(live.log()[mark:]) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["snapshot", "refresh", "claim", "cancel", "next"]) | st.text(max_size=10),
        "version": st.sampled_from([1, 2, "1", None]),
        "step_id": json_values,
        "order_id": json_values,
        "ref": json_values,
    },
).map(json.dumps)
frames = st.lists(messages | st.text(max_size=60) | st.binary(max_size=60), min_size=1, max_size=6)


@pytest.mark.parametrize("name", SOCKETS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=frames)
def test_fuzzed_frames_get_one_reply_each_and_never_a_traceback(
    live: Daphne, name: str, sent: list[str | bytes]
) -> None:
    async def exchange() -> None:
        from asgiref.sync import sync_to_async

        from tests.consumers.conftest import make_user

        path, ask, answer = SOCKETS[name]
        client = await live.connect(path, await sync_to_async(user_for)(make_user))
        assert (await receive(client))["type"] == answer
        for frame in sent:
            await client.send(frame)
            reply = await receive(client)
            assert reply["type"] in ("error", "ok", answer, "order", "order.removed"), reply
        await client.send(ask)
        assert (await receive(client))["type"] == answer
        await client.close()

    mark = len(live.log())
    asyncio.run(exchange())
    assert tracebacks(live.log()[mark:]) == []


def user_for(make_user: Callable[..., User]) -> User:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.filter(username="fuzz").first()
    if user is None:
        user = make_user("fuzz", is_staff=True)
        user.user_permissions.add(Permission.objects.get(codename="view_taskrecord"))
    return user


async def test_a_frame_over_a_mebibyte_is_dropped_by_daphne_itself(
    live: Daphne, open_socket: Callable[[str], Awaitable[ClientConnection]]
) -> None:
    mark = len(live.log())
    client = await open_socket("pickup")
    await client.send("x" * (1024 * 1024 + 1))
    assert await close_code(client) == 1006  # no close frame: the connection is dropped
    assert tracebacks(live.log()[mark:]) == []
