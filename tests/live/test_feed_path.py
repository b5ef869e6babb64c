"""The task feed where RETRY_FEED_PATH puts it, through real daphne: the dashboard page names it, it serves there,
and the path it left is refused like any unknown one."""

import asyncio
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings

from tests.consumers.conftest import session_of
from tests.live.conftest import Daphne, receive, tracebacks

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

DAPHNE_ENV = {"RETRY_FEED_PATH": "ops/task-feed/"}


def dashboard_page(port: int, session: str) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/admin/retry/taskrecord/dashboard/",
        headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return cast(str, response.read().decode())


async def test_the_page_connects_where_the_feed_is_served(live: Daphne, staff: Callable[..., Awaitable[Any]]) -> None:
    mark = len(live.log())
    olga = await staff("olga", "retry.view_taskrecord")
    page = await asyncio.to_thread(dashboard_page, live.port, await sync_to_async(session_of)(olga))
    assert 'data-feed="/ops/task-feed/"' in page

    client = await live.connect("/ops/task-feed/", olga)
    assert (await receive(client))["type"] == "dashboard.figures"
    await client.send('{"type": "refresh", "version": 1}')
    assert (await receive(client))["type"] == "dashboard.figures"
    await client.close()

    with pytest.raises(websockets.InvalidStatus) as refusal:
        await live.connect("/ws/dashboard/", olga)
    assert refusal.value.response.status_code == 403
    assert tracebacks(live.log()[mark:]) == []
