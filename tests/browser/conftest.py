"""Fixtures of the browser tests: the site served by `manage.py serve` in a subprocess, and headless Chromium."""

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, ViewportSize, async_playwright

from tests import processes
from tests.consumers.conftest import kitchen_staff, session_of
from tests.processes import Process, free_port, manage, wait_until_listening

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


#: Where the screenshots go: a temporary folder, or the docs' images with SCREENSHOT_DIR=docs.
SCREENSHOT_DIR = os.environ.get("SCREENSHOT_DIR")


def card(page: Any, label: str) -> Any:
    """The board's card of the order labelled ``label`` (#001)."""
    return page.locator(".board-card", has=page.locator(".card-label", has_text=label))


def step(page: Any, label: str, kind: str) -> Any:
    """The step ``kind`` (Scoop, Spread, Decorate) on the card of order ``label``."""
    return card(page, label).locator(".board-step", has_text=kind)


def staff_member(username: str) -> Any:
    return get_user_model().objects.filter(username=username).first() or kitchen_staff(username)


class Server:
    """`manage.py serve` on a port of its own; stop() and start() again to test a restart."""

    def __init__(self, log_dir: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": processes.database_url(connection.settings_dict),
            "DEBUG": "1",
            **extra_env,
        }
        self.process = Process("server", manage("serve", "--port", str(self.port)), env, log_dir)

    def start(self) -> None:
        self.process.start()
        wait_until_listening(self.port, timeout=30)

    def stop(self) -> None:
        self.process.stop(grace=15)


@pytest.fixture
def server(request: pytest.FixtureRequest, transactional_db: None, tmp_path: Path) -> Iterator[Server]:
    """The site; a test module's SERVER_ENV adds to its environment."""
    site = Server(tmp_path, **getattr(request.module, "SERVER_ENV", {}))
    site.start()
    yield site
    site.stop()
    print(f"--- server log ---\n{site.process.log()[-6000:]}")  # shown when the test fails


#: Runs first on every page: collects the Content-Security-Policy's violations, wherever they come from.
CATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
    const where = `${event.sourceFile}:${event.lineNumber}`;
    window.__violations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${where}`);
});
"""


class CheckedBrowser:
    """Chromium whose every page is watched: a console error or an uncaught exception fails the test.

    Chromium reports each policy violation and each failed request (a missing favicon too) on the console.
    A test that provokes an error on purpose names it in `expected` (a substring of the message).
    """

    def __init__(self, chromium: Browser) -> None:
        self.chromium = chromium
        self.problems: list[str] = []
        self.expected: list[str] = []

    async def new_context(self, **options: Any) -> BrowserContext:
        context = await self.chromium.new_context(**options)
        await context.add_init_script(CATCH_VIOLATIONS)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.problems.append(message.text)

        context.on("console", on_console)
        context.on("weberror", lambda error: self.problems.append(f"uncaught: {error.error}"))
        return context

    def unexpected(self) -> list[str]:
        return [problem for problem in self.problems if not any(text in problem for text in self.expected)]


@pytest.fixture
async def browser(server: Server) -> AsyncIterator[CheckedBrowser]:
    """Closed before the server stops, so no page sees the site go away."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        checked = CheckedBrowser(chromium)
        yield checked
        await chromium.close()
        assert checked.unexpected() == [], "console errors in the browser"


@pytest.fixture
def staff_page(browser: CheckedBrowser, server: Server) -> Callable[..., Awaitable[Page]]:
    """open_as(username) → a page in a browser context of its own, logged in as that staff member."""

    async def open_as(username: str, path: str = "/kitchen/", viewport: ViewportSize | None = None) -> Page:
        user = await sync_to_async(staff_member)(username)
        cookie = await sync_to_async(session_of)(user)
        context = await browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
        await context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server.url}])
        page = await context.new_page()
        await page.goto(server.url + path)
        return page

    return open_as
