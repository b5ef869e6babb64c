"""The search page in Chromium: a viewer finds tasks without action buttons; an operator cancels all that match,
confirms the count, and watches the batch task (run by the server's embedded worker) reach the end."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.tasks.base import TaskResultStatus as Status
from playwright.async_api import expect

from retry.models import TaskRecord
from tests.browser.conftest import CheckedBrowser, Server
from tests.consumers.conftest import session_of
from tests.retry.rows import task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]
SEARCH = "/admin/retry/taskrecord/dashboard/search/"


def staff_session(username: str, *codenames: str) -> str:
    user = get_user_model().objects.create_user(username, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return session_of(user)


async def open_as(browser: Any, server: Any, username: str, *codenames: str) -> Any:
    cookie = await sync_to_async(staff_session)(username, *codenames)
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    await context.add_cookies([{"name": "sessionid", "value": cookie, "url": server.url}])
    page = await context.new_page()
    await page.goto(server.url + SEARCH)
    return page


def far_future_tasks(count: int) -> None:
    """Ready tasks due in a year: the embedded worker leaves them for the batch to cancel."""
    for n in range(count):
        task("emails", kwargs={"order_id": n}, due=-365 * 86400)


async def test_a_viewer_finds_tasks_and_gets_no_action_buttons(browser: CheckedBrowser, server: Server) -> None:
    await sync_to_async(far_future_tasks)(3)
    page = await open_as(browser, server, "vera", "view_taskrecord")
    await page.get_by_label("emails").check()
    await page.get_by_role("button", name="Find").click()
    await expect(page.locator("#match-count")).to_have_text("3 tasks match")
    await expect(page.locator("#filter-actions")).to_have_count(0)


async def test_an_operator_cancels_all_that_match_and_watches_the_batch_finish(
    browser: CheckedBrowser, server: Server
) -> None:
    await sync_to_async(far_future_tasks)(4)
    page = await open_as(browser, server, "otto", "view_taskrecord", "change_taskrecord")
    await page.locator("input[name=arg]").last.fill("kwargs.order_id=2")
    await page.get_by_role("button", name="Find").click()
    await expect(page.locator("#match-count")).to_have_text("1 task matches")
    await page.locator("input[name=arg]").first.fill("")
    await page.get_by_label("emails").check()  # the server's own periodic tasks are on other queues
    await page.get_by_role("button", name="Find").click()
    await expect(page.locator("#match-count")).to_have_text("4 tasks match")
    await page.get_by_role("button", name="Cancel all that match…").click()
    await expect(page.get_by_text("Cancel the 4 ready or running tasks this filter matches?")).to_be_visible()
    await page.get_by_role("button", name="Yes, I\N{RIGHT SINGLE QUOTATION MARK}m sure").click()
    await expect(page.locator("#batch-state")).to_have_text("DONE", timeout=30000)
    await expect(page.locator("#batch-figures")).to_have_text("4 of 4 done, 4 changed")
    statuses = await sync_to_async(
        lambda: set(TaskRecord.objects.filter(queue="emails").values_list("status", flat=True))
    )()
    assert statuses == {Status.FAILED}
