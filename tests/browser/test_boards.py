"""The boards in headless Chromium against a real server: live updates, orders from the form, restarts."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.async_api import expect

from orders import services
from orders.models import Order, Step
from retry.models import TaskRecord
from tests.browser.conftest import SCREENSHOT_DIR, CheckedBrowser, Server, card, staff_member, step
from tests.consumers.tasks import send_order_email
from tests.factories import ORDER_FIELDS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


async def test_one_staff_members_work_shows_on_anothers_board_without_reload(staff_page: Any) -> None:
    await sync_to_async(services.place_order)(**ORDER_FIELDS)
    alice = await staff_page("alice")
    bob = await staff_page("bob")
    for page in (alice, bob):
        await expect(page.locator(".connection")).to_have_text("Live")
    await step(alice, "#001", "Scoop").get_by_role("button", name="Claim").click()
    await expect(step(bob, "#001", "Scoop")).to_contain_text("alice")
    await expect(step(bob, "#001", "Scoop").get_by_role("button")).to_have_count(0)
    await step(alice, "#001", "Scoop").get_by_role("button", name="Done").click()
    await expect(step(bob, "#001", "Scoop")).to_contain_text("✓ alice")
    await expect(card(bob, "#001").locator(".card-status")).to_have_text("In progress")
    claim = step(bob, "#001", "Spread").get_by_role("button", name="Claim")
    fields = await claim.get_attribute("data-fields")
    await claim.click()
    await expect(step(alice, "#001", "Spread")).to_contain_text("bob")
    # Alice's tap on the same step, sent just before Bob's claim reached her board.
    await alice.evaluate(
        """(fields) => {
            const late = Object.assign(document.createElement("button"), {hidden: true});
            late.dataset.action = "claim";
            late.dataset.fields = fields;
            document.querySelector(".board").append(late);
            late.click();
        }""",
        fields,
    )
    await expect(alice.locator(".board-message")).to_have_text("Step #001 spread is already claimed by bob.")


async def test_an_order_from_the_form_reaches_the_kitchen_and_then_the_pickup_screen(
    staff_page: Any, browser: CheckedBrowser, server: Server
) -> None:
    kitchen = await staff_page("alice")
    await expect(kitchen.locator(".board-empty")).to_be_visible()
    customer = await (await browser.new_context()).new_page()
    await customer.goto(server.url + "/")
    await customer.get_by_label("Your name").fill("Robin Frost")
    await customer.get_by_label("E-mail").fill("robin@example.com")
    await customer.get_by_label("Flavour").select_option("mango")
    await customer.get_by_label("Size").select_option("small")
    await customer.get_by_role("button", name="Place order").click()
    await expect(card(kitchen, "#001")).to_contain_text("Robin Frost")
    pickup = await (await browser.new_context()).new_page()
    await pickup.goto(server.url + "/pickup/")
    await expect(pickup.locator("[data-column=being_made]")).to_have_text("#001")
    for kind in ("Scoop", "Spread", "Decorate"):
        await step(kitchen, "#001", kind).get_by_role("button", name="Claim").click()
        await step(kitchen, "#001", kind).get_by_role("button", name="Done").click()
    await expect(pickup.locator("[data-column=ready]")).to_have_text("#001")
    await expect(pickup.locator("[data-column=being_made]")).to_have_text("")
    await expect(pickup.locator("body")).not_to_contain_text("Robin")


async def test_the_board_recovers_after_the_server_restarts(
    staff_page: Any, browser: CheckedBrowser, server: Server
) -> None:
    browser.expected.append("net::ERR_CONNECTION_REFUSED")  # the board's reconnects while the server is down
    page = await staff_page("alice")
    await expect(page.locator(".connection")).to_have_text("Live")
    await sync_to_async(server.stop)()
    await expect(page.locator(".connection")).to_contain_text("Offline")
    await sync_to_async(services.place_order)(**ORDER_FIELDS)  # placed while the board was away
    await sync_to_async(server.start)()
    await expect(page.locator(".connection")).to_have_text("Live", timeout=40_000)
    await expect(card(page, "#001")).to_be_visible()


async def test_an_anonymous_visitor_is_sent_to_the_login(browser: CheckedBrowser, server: Server) -> None:
    page = await (await browser.new_context()).new_page()
    await page.goto(server.url + "/kitchen/")
    await expect(page).to_have_url(f"{server.url}/admin/login/?next=/kitchen/")


@sync_to_async
def busy_kitchen() -> None:
    """A few orders in every state, for the screenshots."""
    alice, bob = (get_user_model().objects.get(username=name) for name in ("alice", "bob"))
    cakes = [
        ("Ada", "chocolate", "large", "Happy 40th, Ada!"),
        ("Ben", "pistachio", "medium", ""),
        ("Cleo", "strawberry", "small", "Congratulations!"),
        ("Dev", "mango", "medium", "Welcome home"),
        ("Eli", "vanilla", "large", ""),
    ]
    for minutes, (name, flavour, size, text) in zip((34, 21, 12, 6, 1), cakes, strict=True):
        order = services.place_order(
            **{**ORDER_FIELDS, "customer_name": name, "flavour": flavour, "size": size, "message": text}
        )
        Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))
    work = [(1, "scoop", alice), (1, "spread", alice), (1, "decorate", bob), (2, "scoop", bob), (3, "spread", bob)]
    for number, kind, user in work:
        step = Step.objects.get(order__number=number, kind=kind)
        services.claim_step(step.pk, user)
        if number < 3:
            services.finish_step(step.pk, user)
    services.claim_step(Step.objects.get(order__number=2, kind="decorate").pk, alice)
    second = Order.objects.get(number=2)
    task = TaskRecord.objects.filter(kwargs__order_id=second.pk).order_by("-enqueued_at").first()
    task_id = task.pk if task else send_order_email.enqueue(order_id=second.pk).id
    # As after a first attempt that failed: the server's dispatcher leaves it alone until run_after.
    now = timezone.now()
    TaskRecord.objects.filter(pk=task_id).update(
        status="READY",
        attempts=1,
        run_after=now + timedelta(seconds=40),
        notified_at=now + timedelta(seconds=40),
        error_class="EndpointError",
        error_message="503 from endpoint",
    )


async def test_a_busy_kitchen_and_a_screenshot_of_the_pickup_screen(
    staff_page: Any, browser: CheckedBrowser, server: Server, tmp_path: Path
) -> None:
    folder = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    for name in ("alice", "bob"):
        await sync_to_async(staff_member)(name)
    await busy_kitchen()
    kitchen = await staff_page("alice")
    await expect(card(kitchen, "#002").locator(".task", has_text="retry 2/")).to_contain_text("503 from endpoint")
    await expect(card(kitchen, "#001").locator(".card-status")).to_have_text("Ready")
    pickup = await (await browser.new_context(viewport={"width": 1280, "height": 720})).new_page()
    await pickup.goto(server.url + "/pickup/")
    await expect(pickup.locator("[data-column=ready]")).to_have_text("#001")
    await pickup.screenshot(path=folder / "pickup-screen.png")
