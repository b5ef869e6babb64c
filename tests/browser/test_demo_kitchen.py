"""The seed's kitchen in Chromium: its two cooks, logged in side by side, get different steps from "Next for me"."""

import io
import re
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from playwright.async_api import expect

from tests.browser.conftest import SCREENSHOT_DIR, step

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]
MINE = re.compile(r"\bstep-mine\b")


async def test_next_for_me_gives_the_demo_cooks_different_steps_on_the_same_board(
    staff_page: Any, tmp_path: Path
) -> None:
    await sync_to_async(call_command)("seed_demo", stdout=io.StringIO())
    ana, ben = await staff_page("ana"), await staff_page("ben")
    for page in (ana, ben):
        await expect(page.locator(".connection")).to_have_text("Live")
    await expect(step(ana, "#001", "Scoop")).to_contain_text("✓ ana")  # every scoop is done or taken
    await expect(step(ana, "#002", "Scoop")).to_contain_text("ben")
    await expect(step(ben, "#002", "Scoop")).to_have_class(MINE)

    await ana.get_by_role("button", name="Next for me").click()
    await expect(ana.locator(".board-message")).to_have_text("Next for you: #001 decorate.")
    await expect(step(ana, "#001", "Decorate")).to_have_class(MINE)  # Ana decorates after scooping
    await ben.get_by_role("button", name="Next for me").click()
    await expect(ben.locator(".board-message")).to_have_text("Next for you: #001 spread.")
    await expect(step(ben, "#001", "Spread")).to_have_class(MINE)  # Ben spreads after scooping

    await expect(step(ana, "#001", "Spread")).to_contain_text("ben")  # one board: each sees the other's step
    await expect(step(ben, "#001", "Decorate")).to_contain_text("ana")
    folder = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    await ana.screenshot(path=folder / "kitchen-board.png", full_page=True)
    await ben.screenshot(path=folder / "kitchen-board-ben.png", full_page=True)
