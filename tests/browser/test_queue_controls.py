"""The dashboard's queue rows in Chromium: an operator pauses a queue and resumes it, each after confirming."""

import pytest
from asgiref.sync import sync_to_async
from playwright.async_api import expect

from retry.models import QueuePause
from tests.browser.conftest import CheckedBrowser, Server
from tests.browser.test_dashboard import open_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def paused() -> list[tuple[str, str]]:
    return list(QueuePause.objects.values_list("queue", "paused_by"))


async def test_an_operator_pauses_and_resumes_a_queue_from_its_row(browser: CheckedBrowser, server: Server) -> None:
    page, _, _ = await open_dashboard(browser, server)
    row = page.locator("#queues tr[data-queue=emails]")
    await expect(row.locator("td.state")).to_have_text("active")

    await row.get_by_role("button", name="Pause").click()
    await expect(page.get_by_text("Pause this queue?")).to_be_visible()
    assert await sync_to_async(paused)() == []  # asked, not done
    await page.get_by_role("button", name="Yes, I\u2019m sure").click()

    row = page.locator("#queues tr[data-queue=emails]")
    await expect(row.locator("td.state")).to_have_text("paused by root")
    await expect(row).to_have_class("paused")
    assert await sync_to_async(paused)() == [("emails", "root")]
    await expect(page.locator("#queues tr[data-queue=default] td.state")).to_have_text("active")

    await row.get_by_role("button", name="Resume").click()
    await page.get_by_role("button", name="Yes, I\u2019m sure").click()
    await expect(page.locator("#queues tr[data-queue=emails] td.state")).to_have_text("active")
    assert await sync_to_async(paused)() == []
