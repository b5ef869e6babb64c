"""Fixtures of the browser tests: the site served by `manage.py serve` in a subprocess, and headless Chromium."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from playwright.async_api import async_playwright

from tests.consumers.conftest import make_user, session_of

BASE_DIR = Path(__file__).resolve().parents[2]
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    """The test database as a URL, so the server process reads and writes what the test sees."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def staff_member(username: str) -> Any:
    return get_user_model().objects.filter(username=username).first() or make_user(username, is_staff=True)


class Server:
    """`manage.py serve` on a port of its own; stop() and start() again to test a restart."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url(), "DEBUG": "1"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "serve", "--port", str(self.port)],
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_until_listening()

    def wait_until_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited:\n{self.log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the server did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture(autouse=True)
def static_root(settings: Any, tmp_path: Path) -> None:
    """An existing STATIC_ROOT: WhiteNoise warns about a missing one, and warnings fail tests."""
    settings.STATIC_ROOT = tmp_path


@pytest.fixture
def server(transactional_db: None, tmp_path: Path) -> Iterator[Server]:
    site = Server(tmp_path / "server.log")
    site.start()
    yield site
    site.stop()
    print(f"--- server log ---\n{site.log.read_text()[-6000:]}")  # shown when the test fails


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
def staff_page(browser: Any, server: Server) -> Any:
    """open_as(username) → a page in a browser context of its own, logged in as that staff member."""

    async def open_as(username: str, path: str = "/kitchen/", viewport: dict[str, int] | None = None) -> Any:
        user = await sync_to_async(staff_member)(username)
        cookie = await sync_to_async(session_of)(user)
        context = await browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
        await context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server.url}])
        page = await context.new_page()
        await page.goto(server.url + path)
        return page

    return open_as
