"""The customer's order status page follows the order live in Chromium, on a phone's width."""

import pytest
from asgiref.sync import sync_to_async
from playwright.async_api import expect

from orders import services
from orders.models import Order, Step
from tests.browser.conftest import CheckedBrowser, Server, staff_member
from tests.factories import ORDER_FIELDS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@sync_to_async
def claim(kind: str) -> int:
    step = Step.objects.get(order__number=1, kind=kind)
    services.claim_step(step.pk, staff_member("alice"))
    return step.pk


@sync_to_async
def finish(step_id: int) -> None:
    services.finish_step(step_id, staff_member("alice"))


@sync_to_async
def deliver() -> None:
    services.mark_delivered(Order.objects.get(number=1).pk, staff_member("alice"))


async def test_the_status_page_changes_with_the_order_without_a_reload(browser: CheckedBrowser, server: Server) -> None:
    await sync_to_async(services.place_order)(**ORDER_FIELDS)
    page = await (await browser.new_context(viewport={"width": 390, "height": 800})).new_page()
    await page.goto(server.url + "/orders/1/")
    status, live = page.locator("[data-status]"), page.locator("[data-live]")
    await expect(live).to_have_attribute("data-state", "live")
    await expect(status).to_have_text("Received")

    scoop = await claim("scoop")
    await expect(status).to_have_text("In progress")
    await expect(page.locator("[data-step=scoop] .step-status")).to_have_text("Claimed")
    for step_id in (scoop, await claim("spread"), await claim("decorate")):
        await finish(step_id)
    await expect(status).to_have_text("Ready for pickup")
    await expect(page.locator("[data-step=decorate]")).to_have_class("step step-done")
    await deliver()
    await expect(status).to_have_text("Delivered")
    await expect(live).to_have_text("This order is closed.")
