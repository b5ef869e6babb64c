"""Roles on the feed: viewers watch and are refused every action ("forbidden", the socket stays open); operators
start batch actions from the site's own pages, and only from there."""

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.tasks.base import TaskResultStatus as Status

from retry import conf, routing
from retry.models import AuditEntry, TaskRecord
from tests.retry.feeds import session_cookie
from tests.retry.rows import task

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(30)]
SITE = [(b"host", b"tasks.example"), (b"origin", b"https://tasks.example")]
ELSEWHERE = [(b"host", b"tasks.example"), (b"origin", b"https://evil.example")]
CANCEL = {"type": "act", "version": 1, "action": "cancel", "filter": {"queue": ["emails"]}, "ref": "a1"}


def staff_cookie(username: str, *codenames: str) -> bytes:
    cookie = session_cookie(username, is_staff=True)
    user = get_user_model().objects.get(username=username)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return cookie


@pytest.fixture
async def open_as(layer: Any) -> AsyncIterator[Any]:
    opened: list[WebsocketCommunicator] = []

    async def connect(username: str, *codenames: str, headers: list[tuple[bytes, bytes]] = SITE) -> Any:
        cookie = await sync_to_async(staff_cookie)(username, *codenames)
        application = AuthMiddlewareStack(URLRouter(routing.websocket_urlpatterns()))  # type: ignore[arg-type]  # URLRouter takes path()s of ASGI apps; the stubs want its own patterns
        feed = WebsocketCommunicator(application, "/" + conf.get().FEED_PATH, headers=[(b"cookie", cookie), *headers])
        opened.append(feed)
        accepted, _ = await feed.connect(timeout=5)
        assert accepted
        assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"
        return feed

    yield connect
    for feed in opened:
        if not feed.future.done():
            await feed.disconnect()


async def reply_to(feed: WebsocketCommunicator, frame: dict[str, Any]) -> dict[str, Any]:
    await feed.send_json_to(frame)
    while (message := await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures":
        pass
    return cast(dict[str, Any], message)


def ready_emails() -> int:
    return TaskRecord.objects.filter(queue="emails", status=Status.READY).count()


async def test_a_viewer_watches_but_is_refused_every_action_and_the_feed_goes_on(open_as: Any) -> None:
    await sync_to_async(task)("emails")
    feed = await open_as("vera", "view_taskrecord")
    reply = await reply_to(feed, CANCEL)
    assert (reply["type"], reply["code"], reply["action"], reply["ref"]) == ("error", "forbidden", "act", "a1")
    assert await sync_to_async(ready_emails)() == 1
    assert not await sync_to_async(AuditEntry.objects.exists)()
    await feed.send_json_to({"type": "refresh", "version": 1})
    assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"


async def test_an_operator_starts_a_batch_action_over_the_feed(open_as: Any) -> None:
    await sync_to_async(lambda: [task("emails") for _ in range(3)])()
    feed = await open_as("otto", "view_taskrecord", "change_taskrecord")
    reply = await reply_to(feed, CANCEL)
    entry = await sync_to_async(AuditEntry.objects.get)()
    assert reply == {
        "type": "batch.started",
        "version": 1,
        "ref": "a1",
        "batch": entry.pk,
        "action": "cancel",
        "total": 3,
    }
    assert (entry.operator, entry.filter, entry.state) == ("otto", {"queue": ["emails"]}, AuditEntry.State.RUNNING)


async def test_an_operator_is_refused_from_another_sites_page(open_as: Any) -> None:
    feed = await open_as("otto", "view_taskrecord", "change_taskrecord", headers=ELSEWHERE)
    assert (await reply_to(feed, CANCEL))["code"] == "forbidden"
    assert not await sync_to_async(AuditEntry.objects.exists)()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({**CANCEL, "action": "explode"}, "bad_field"),
        ({**CANCEL, "filter": {"queue": ["nothere"]}}, "bad_field"),
        ({**CANCEL, "filter": {"arg": ["kwargs.x' OR 1=1 --=1"]}}, "bad_field"),
        ({**CANCEL, "filter": "everything"}, "bad_field"),
        ({**CANCEL, "action": None}, "bad_field"),
        ({**CANCEL, "filter": {"arg": 5}}, "bad_field"),
        ({**CANCEL, "filter": {"since": "999999d"}}, "bad_field"),
        ({**CANCEL, "filter": {"arg": ["x=NaN"], "queue": ["emails"]}}, "bad_field"),
        ({**CANCEL, "filter": {"error": "\u0000", "queue": ["emails"]}}, "bad_field"),
        ({**CANCEL, "version": 2}, "bad_version"),
    ],
)
async def test_a_bad_action_request_is_answered_and_changes_nothing(
    open_as: Any, frame: dict[str, Any], code: str
) -> None:
    await sync_to_async(task)("emails")
    feed = await open_as("otto", "view_taskrecord", "change_taskrecord")
    assert (await reply_to(feed, frame))["code"] == code
    assert await sync_to_async(ready_emails)() == 1
    assert not await sync_to_async(AuditEntry.objects.exists)()
    await feed.send_json_to({"type": "refresh", "version": 1})  # the socket stays open
    assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"
