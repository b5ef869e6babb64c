"""Every page in headless Chromium at a desktop and a phone width: no console error, no Content-Security-Policy
violation, no failed request (a missing favicon included), and the site's own pages fit the screen."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse
from playwright.async_api import Page, expect

from orders import services
from orders.models import StaffProfile, WebhookDelivery
from tests.browser.conftest import CheckedBrowser, Server
from tests.consumers.conftest import session_of
from tests.factories import ORDER_FIELDS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

WIDTHS = [1280, 390]
#: The site's own pages, which must fit a phone's width without scrolling sideways.
OWN_PAGES = ["/", "/orders/1/", "/kitchen/", "/pickup/"]
ADMIN_EXTRA = ["/admin/", "/admin/retry/taskrecord/dashboard/", "/admin/password_change/"]


def admin_pages() -> list[str]:
    """Every model's list and add page in the admin (where adding is possible), and its first row's change page."""
    request = RequestFactory().get("/")
    request.user = get_user_model().objects.get(username="root")
    pages = list(ADMIN_EXTRA)
    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages.append(reverse(f"{name}_changelist"))
        if model_admin.has_add_permission(request):
            pages.append(reverse(f"{name}_add"))
        first = model._default_manager.first()
        if first is not None:
            pages.append(reverse(f"{name}_change", args=[first.pk]))
    return pages


class Watched:
    """A page of the checked browser, checked after each step: no console error, no policy violation."""

    def __init__(self, browser: CheckedBrowser, page: Page) -> None:
        self.browser = browser
        self.page = page

    async def visit(self, url: str) -> None:
        response = await self.page.goto(url)
        assert response is not None and response.status == 200, url
        await self.page.wait_for_load_state("networkidle")
        await self.check(url)

    async def check(self, where: str) -> None:
        violations = await self.page.evaluate("window.__violations")
        assert (self.browser.unexpected(), violations) == ([], []), where


@sync_to_async
def superuser_session() -> str:
    order = services.place_order(**ORDER_FIELDS)
    # A delivery row for the admin's pages, with no task behind it: the server resolves no name outside.
    WebhookDelivery.objects.create(order=order, status=order.status, url="https://example.com/hook", payload={})
    user = get_user_model().objects.create_superuser("root", password="cake-pass-1")
    StaffProfile.objects.create(user=user, preferred_steps="decorate")
    return session_of(user)


async def open_watched(browser: CheckedBrowser, server: Server, width: int, cookie: str | None = None) -> Watched:
    context = await browser.new_context(viewport={"width": width, "height": 800})
    if cookie:
        await context.add_cookies([{"name": "sessionid", "value": cookie, "url": server.url}])
    return Watched(browser, await context.new_page())


@pytest.mark.parametrize("width", WIDTHS)
async def test_every_page_loads_clean_under_the_content_security_policy(
    browser: CheckedBrowser, server: Server, width: int
) -> None:
    cookie = await superuser_session()
    staff = await open_watched(browser, server, width, cookie)
    for path in OWN_PAGES + await sync_to_async(admin_pages)():
        await staff.visit(server.url + path)
    # The dashboard's confirmation page, reached as an operator reaches it.
    await staff.visit(server.url + "/admin/retry/taskrecord/dashboard/")
    await staff.page.get_by_label("task id").fill("00000000-0000-0000-0000-000000000000")
    await staff.page.get_by_role("button", name="Retry now").click()
    await expect(staff.page.get_by_role("heading", name="Are you sure?")).to_be_visible()
    await staff.check("the confirmation page")
    visitor = await open_watched(browser, server, width)
    for path in ["/", "/orders/1/", "/admin/login/"]:
        await visitor.visit(server.url + path)


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_sites_own_pages_fit_the_screen(browser: CheckedBrowser, server: Server, width: int) -> None:
    staff = await open_watched(browser, server, width, await superuser_session())
    for path in OWN_PAGES:
        await staff.visit(server.url + path)
        overflow = await staff.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow} px wider than a {width} px screen"
        for link in await staff.page.locator("header a").all():
            box = await link.bounding_box()
            assert box is None or box["x"] + box["width"] <= width, f"{path}: {await link.inner_text()} is cut off"


async def test_the_task_dashboard_styles_its_breadcrumbs_and_buttons_as_the_admin_does(
    browser: CheckedBrowser, server: Server
) -> None:
    staff = await open_watched(browser, server, 1280, await superuser_session())
    await staff.visit(server.url + "/admin/retry/taskrecord/dashboard/")
    crumbs = staff.page.locator(".breadcrumbs")
    assert await crumbs.evaluate("(el) => getComputedStyle(el).backgroundColor") != "rgba(0, 0, 0, 0)"
    buttons = staff.page.locator("#retry-dashboard button")
    assert await buttons.count() == 12  # four actions, four chart ranges, a pause button for each of four queues
    for button in await buttons.all():
        assert await button.evaluate("(el) => getComputedStyle(el).borderTopStyle") == "none"  # admin's .button
