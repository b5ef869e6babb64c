"""The task dashboard in Chromium: its script connects to the feed where the page says RETRY_FEED_PATH is."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from playwright.async_api import Page, expect

from tests.browser.conftest import CheckedBrowser, Server
from tests.consumers.conftest import session_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

SERVER_ENV = {"RETRY_FEED_PATH": "ops/task-feed/"}


async def open_dashboard(browser: CheckedBrowser, server: Server) -> tuple[Page, str, list[str]]:
    """A superuser's dashboard, live: the page, its session key and the URLs of the sockets it opened."""
    user = await sync_to_async(get_user_model().objects.create_superuser)("root", password="cake-pass-1")
    cookie = await sync_to_async(session_of)(user)
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    await context.add_cookies([{"name": "sessionid", "value": cookie, "url": server.url}])
    page = await context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    await page.goto(server.url + "/admin/retry/taskrecord/dashboard/")
    await expect(page.locator("#feed-state")).to_have_text("live")
    return page, cookie, sockets


async def test_the_dashboard_goes_live_on_the_feed_of_retry_feed_path(browser: CheckedBrowser, server: Server) -> None:
    _, _, sockets = await open_dashboard(browser, server)
    assert sockets == [server.url.replace("http://", "ws://") + "/ops/task-feed/"]


async def test_the_dashboard_stops_reconnecting_once_the_session_has_ended(
    browser: CheckedBrowser, server: Server
) -> None:
    page, cookie, sockets = await open_dashboard(browser, server)
    await sync_to_async(Session.objects.filter(session_key=cookie).delete)()  # logged out elsewhere
    await expect(page.locator("#feed-state")).to_have_text("session ended: reload to log in", timeout=15000)
    await page.wait_for_timeout(2000)
    assert len(sockets) == 1  # no reconnection the server would refuse again
