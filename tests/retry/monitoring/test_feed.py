"""The task dashboard's feed: staff only, read again on every message and push; fresh figures after task changes,
throttled; hostile frames answered; a failing layer or database waited out; served where RETRY_FEED_PATH says."""

import logging
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import OperationalError
from pytest_django import Settings

from retry import conf, routing, transitions
from retry.monitoring import feed as feed_module
from retry.monitoring import frames
from retry.monitoring.feed import TaskFeedConsumer
from tests.retry.feeds import STAFF, task_changes, watching
from tests.retry.rows import task

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(30)]


def queue_of(message: dict[str, Any], name: str) -> dict[str, Any]:
    return next(q for q in message["figures"]["queues"] if q["queue"] == name)


async def closed_with(feed: WebsocketCommunicator) -> int:
    """The close code, once every message sent before it is read."""
    while (output := await feed.receive_output(timeout=5))["type"] == "websocket.send":
        pass
    assert output["type"] == "websocket.close"
    return int(output["code"])


async def test_staff_get_the_figures_on_connect(open_feed: Callable[..., Any]) -> None:
    await sync_to_async(task)("emails", enqueued=30)
    feed, (accepted, _) = await open_feed("olga", **STAFF)
    assert accepted
    message = await feed.receive_json_from(timeout=5)
    assert (message["type"], message["version"]) == ("dashboard.figures", 1)
    assert queue_of(message, "emails")["ready"] == 1


async def test_the_feed_updates_when_a_task_changes(open_feed: Callable[..., Any]) -> None:
    record = await sync_to_async(task)("webhooks", enqueued=30)
    feed, _ = await open_feed("olga", **STAFF)
    assert queue_of(await feed.receive_json_from(timeout=5), "webhooks")["dead"] == 0
    assert await sync_to_async(transitions.cancel)(str(record.pk))
    message = await feed.receive_json_from(timeout=5)
    assert (queue_of(message, "webhooks")["ready"], queue_of(message, "webhooks")["dead"]) == (0, 1)


async def test_a_burst_of_changes_makes_one_push(open_feed: Callable[..., Any], layer: Any) -> None:
    feed = await watching(open_feed)
    for _ in range(20):
        await layer.group_send(conf.get().EVENTS_GROUP, {"type": "task.changed", "change": "started"})
    await feed.receive_json_from(timeout=5)
    assert await feed.receive_nothing(timeout=0.6)


async def test_a_refresh_request_gets_fresh_figures(open_feed: Callable[..., Any]) -> None:
    feed = await watching(open_feed)
    await sync_to_async(task)("maintenance", enqueued=30)
    await feed.send_json_to({"type": "refresh", "version": 1})
    assert queue_of(await feed.receive_json_from(timeout=5), "maintenance")["ready"] == 1


@pytest.mark.parametrize(
    ("username", "fields"),
    [
        (None, {}),  # not logged in
        ("carol", {}),  # a customer
        ("sam", {"is_staff": True}),  # kitchen staff without the permission to view tasks
        ("eve", {**STAFF, "is_active": False}),
    ],
)
async def test_others_are_closed_out_before_any_figures(
    open_feed: Callable[..., Any], username: str | None, fields: dict[str, bool]
) -> None:
    feed, _ = await open_feed(username, **fields)
    closing = await feed.receive_output(timeout=5)
    assert closing["type"] == "websocket.close"
    assert closing["code"] == (frames.NOT_ALLOWED if username in ("carol", "sam") else frames.NOT_LOGGED_IN)


async def test_a_request_after_the_session_ended_is_answered_then_closed(open_feed: Callable[..., Any]) -> None:
    feed = await watching(open_feed)
    await sync_to_async(lambda: Session.objects.all().delete())()
    await feed.send_json_to({"type": "refresh", "version": 1, "ref": "r1"})
    reply = await feed.receive_json_from(timeout=5)
    assert (reply["type"], reply["code"], reply["action"], reply["ref"]) == ("error", "access_lost", "refresh", "r1")
    assert await closed_with(feed) == frames.NOT_LOGGED_IN


async def test_a_push_after_the_account_was_demoted_closes_the_feed_instead(
    open_feed: Callable[..., Any], layer: Any
) -> None:
    feed = await watching(open_feed)
    await sync_to_async(lambda: get_user_model().objects.filter(username="olga").update(is_staff=False))()
    await task_changes(layer)
    assert await closed_with(feed) == frames.NOT_ALLOWED


#: Frames that are not a request of the feed, and the error code each gets.
HOSTILE: list[tuple[str | bytes, str]] = [
    ("{not json", "bad_json"),
    ("[1, 2]", "bad_json"),
    ('{"type": "\\ud800\\u0000", "version": 1}', "unknown_type"),
    ('{"type": "snapshot", "version": 1}', "unknown_type"),
    ('{"type": null}', "unknown_type"),
    ('{"type": "refresh"}', "bad_version"),
    ('{"type": "refresh", "version": 1, "ref": 7}', "bad_field"),
    (b"\x00\x01", "binary"),
]


async def test_hostile_frames_get_an_error_and_the_feed_goes_on(
    open_feed: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    feed = await watching(open_feed)
    for frame, code in HOSTILE:
        await (feed.send_to(bytes_data=frame) if isinstance(frame, bytes) else feed.send_to(text_data=frame))
        reply = await feed.receive_json_from(timeout=5)
        assert (reply["type"], reply["code"], reply["action"]) == ("error", code, None), frame
    await feed.send_json_to({"type": "refresh", "version": 1})
    assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_frame_over_the_limit_closes_the_feed(open_feed: Callable[..., Any]) -> None:
    feed = await watching(open_feed)
    await feed.send_to(text_data='{"type": "refresh", "version": 1, "pad": "' + "x" * frames.MAX_FRAME + '"}')
    assert (await feed.receive_json_from(timeout=5))["code"] == "too_large"
    assert await closed_with(feed) == frames.TOO_LARGE


async def test_a_flood_of_requests_is_slowed_down_then_cut_off(
    open_feed: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TaskFeedConsumer, "burst", 3)
    monkeypatch.setattr(TaskFeedConsumer, "rate", 0.001)
    feed = await watching(open_feed)
    for _ in range(4):
        await feed.send_json_to({"type": "refresh", "version": 1})
    limited = await feed.receive_json_from(timeout=5)
    assert (limited["type"], limited["code"]) == ("error", "rate_limited")
    assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"  # the three taken, in one push
    for _ in range(40):
        await feed.send_json_to({"type": "refresh", "version": 1})
    assert await closed_with(feed) == frames.FLOODING


async def test_other_messages_on_the_group_are_dropped(open_feed: Callable[..., Any], layer: Any) -> None:
    feed = await watching(open_feed)
    for kind in ("websocket.disconnect", "send", "feed.push", "_private"):
        await layer.group_send(conf.get().EVENTS_GROUP, {"type": kind, "code": 1000})
    assert await feed.receive_nothing(timeout=0.5)
    await feed.send_json_to({"type": "refresh", "version": 1})
    assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"


async def test_without_a_session_in_the_scope_the_feed_closes_and_says_why(
    layer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    application = URLRouter(routing.websocket_urlpatterns())  # type: ignore[arg-type]  # URLRouter takes path()s of ASGI apps; the stubs want its own patterns
    feed = WebsocketCommunicator(application, "/" + conf.get().FEED_PATH)
    await feed.connect(timeout=5)
    assert await closed_with(feed) == frames.NOT_LOGGED_IN
    assert "AuthMiddlewareStack" in caplog.text


def failing(times: int, then: Callable[..., Any]) -> Callable[..., Any]:
    """A layer method that raises ConnectionError ``times`` times, as while Redis is away, then calls ``then``."""
    calls = {"failed": 0}

    async def call(*args: Any) -> Any:
        if calls["failed"] < times:
            calls["failed"] += 1
            raise ConnectionError("Redis is away")
        return await then(*args)

    return call


async def test_a_layer_failing_at_connect_delays_only_the_events(
    open_feed: Callable[..., Any], layer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layer, "group_add", failing(2, layer.group_add))
    feed = await watching(open_feed)  # the figures come at once, from the database
    # Back after two more tries: the feed joins the group and sends fresh figures, since changes may be unannounced.
    assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"
    await task_changes(layer)
    assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"


async def test_a_layer_failing_under_a_watching_feed_is_waited_out(
    open_feed: Callable[..., Any], layer: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(layer, "receive", failing(3, layer.receive))
    feed = await watching(open_feed)
    await feed.send_json_to({"type": "refresh", "version": 1})  # the feed serves its client meanwhile
    assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"
    assert (await feed.receive_json_from(timeout=10))["type"] == "dashboard.figures"  # the layer is back
    await task_changes(layer)
    assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"
    said = [r.getMessage() for r in caplog.records if r.name == "retry.monitoring.subscription"]
    assert said.count("Channel layer unavailable; trying again") == 3
    assert "Channel layer back; group joined again" in said


async def test_the_feed_is_served_at_retry_feed_path(open_feed: Callable[..., Any], settings: Settings) -> None:
    settings.RETRY_FEED_PATH = "ops/task-feed/"
    feed, (accepted, _) = await open_feed("olga", **STAFF)
    assert accepted and feed.scope["path"] == "/ops/task-feed/"
    assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"


def failing_once_then(real: Callable[..., Any], outage: dict[str, bool]) -> Callable[..., Any]:
    def read(*args: Any) -> Any:
        if outage["on"]:
            raise OperationalError("the database is away")
        return real(*args)

    return read


async def test_a_database_outage_under_a_watching_feed_gets_an_error_then_the_figures(
    open_feed: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed, (accepted, _) = await open_feed("olga", **STAFF)
    assert accepted and (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"
    monkeypatch.setattr(TaskFeedConsumer, "retry_after", 0.2)
    outage = {"on": True}
    monkeypatch.setattr(feed_module, "figures", failing_once_then(feed_module.figures, outage))
    await feed.send_json_to({"type": "refresh", "version": 1})
    reply = await feed.receive_json_from(timeout=5)
    assert (reply["type"], reply["code"]) == ("error", "unavailable")
    outage["on"] = False
    assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"  # read again, unasked


async def test_a_feed_opened_while_the_database_is_away_waits_for_it(
    open_feed: Callable[..., Any], layer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TaskFeedConsumer, "retry_after", 0.2)
    outage = {"on": True}
    monkeypatch.setattr(feed_module, "session_user", failing_once_then(feed_module.session_user, outage))
    feed, (accepted, _) = await open_feed("olga", **STAFF)
    assert accepted and (await feed.receive_json_from(timeout=5))["code"] == "unavailable"
    outage["on"] = False
    assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"
    await sync_to_async(task)("emails")
    await task_changes(layer)
    assert queue_of(await feed.receive_json_from(timeout=5), "emails")["ready"] == 1  # and it joined the group
