"""The charts in Chromium: an hour of work rolled up by the dispatcher's writer, drawn on the dashboard and on a
task name's page, other ranges read on demand; the dashboard screenshot of the docs."""

import math
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import transaction
from django.tasks.base import TaskResultStatus as Status
from django.utils import timezone
from playwright.async_api import Locator, Page, expect

from retry.models import Outcome, Rollup, RollupMark, TaskAttempt, TaskRecord
from retry.models.rollups import MINUTE
from retry.monitoring import history
from tests.browser.conftest import CheckedBrowser, Server
from tests.consumers.conftest import session_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]
#: Where the screenshot goes: a temporary folder, or the docs' image with SCREENSHOT_DIR=docs.
SCREENSHOT_DIR = os.environ.get("SCREENSHOT_DIR")
WORK = {  # queue: (task, attempts a minute at the calmest, at the busiest)
    "emails": ("orders.tasks.send_order_email", 4, 14),
    "webhooks": ("orders.tasks.deliver_webhook", 2, 6),
    "maintenance": ("orders.tasks.clean_up", 0, 1),
}


def one_task(
    queue: str, path: str, started: datetime, *, wait: float, run: float, outcomes: list[str]
) -> tuple[TaskRecord, list[TaskAttempt]]:
    status = Status.FAILED if outcomes[-1] == Outcome.FAILED else Status.SUCCESSFUL
    enqueued = started - timedelta(seconds=wait)
    record = TaskRecord(
        task_path=path,
        queue=queue,
        status=status,
        attempts=len(outcomes),
        max_attempts=len(outcomes),
        time_limit=60,
        enqueued_at=enqueued,
        run_after=enqueued,
        started_at=started,
        finished_at=started + timedelta(seconds=run * len(outcomes)),
        error_class="orders.webhooks.errors.EndpointError" if status == Status.FAILED else "",
        error_message="503 from https://hooks.example.com/cakes" if status == Status.FAILED else "",
    )
    attempts = [
        TaskAttempt(
            task=record,
            number=number,
            worker_id="oven:4121:x",
            started_at=started + timedelta(seconds=run * (number - 1)),
            finished_at=started + timedelta(seconds=run * number),
            outcome=outcome,
        )
        for number, outcome in enumerate(outcomes, 1)
    ]
    return record, attempts


@sync_to_async
def busy_hour() -> None:
    """An hour of work that swells and ebbs, webhooks failing for a while; rolled up as the dispatcher does, with
    the backlog samples a dispatcher would have taken during that hour."""
    now = timezone.now()
    records, attempts = [], []
    for minute in range(1, 60):
        swell = (1 + math.sin(minute / 7)) / 2
        for queue, (path, calm, busy) in WORK.items():
            for n in range(round(calm + (busy - calm) * swell)):
                failing = queue == "webhooks" and 18 <= minute <= 26
                outcomes: list[str] = [Outcome.RETRIED, Outcome.FAILED] if failing and n % 2 else [Outcome.SUCCEEDED]
                started = now - timedelta(minutes=minute, seconds=-((n * 13) % 45))
                record, tries = one_task(
                    queue, path, started, wait=0.3 + swell * 4 + n % 3, run=0.1 + (n % 4) * 0.2, outcomes=outcomes
                )
                records.append(record)
                attempts += tries
    with transaction.atomic():
        TaskRecord.objects.bulk_create(records)
        TaskAttempt.objects.bulk_create(attempts)
        Rollup.objects.all().delete()  # what the server's dispatcher rolled up before these rows were written
        RollupMark.objects.all().delete()
    end = history.floor(now - history.SETTLE, MINUTE)
    while history.roll_up(now, end)[0]:
        pass
    for row in Rollup.objects.filter(scope=Rollup.Scope.QUEUE, name="emails", resolution=MINUTE):
        minutes_ago = (now - row.bucket).total_seconds() / 60
        Rollup.objects.filter(pk=row.pk).update(
            ready=round(40 * max(math.sin(minutes_ago / 7), 0)), oldest_ready_age=30 * max(math.sin(minutes_ago / 7), 0)
        )


async def open_as_operator(browser: CheckedBrowser, server: Server, path: str) -> Page:
    """The page in Chromium, its timers on a clock the test moves (page.clock.fast_forward)."""
    user = await sync_to_async(get_user_model().objects.create_superuser)("operator", password="cake-pass-1")
    cookie = await sync_to_async(session_of)(user)
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    await context.add_cookies([{"name": "sessionid", "value": cookie, "url": server.url}])
    page = await context.new_page()
    await page.clock.install()
    await page.goto(server.url + path)
    return page


@sync_to_async
def a_minute_more(scope: str, name: str, **figures: float) -> None:
    """A row for the last minute rolled up, as the next roll-up would write it."""
    last = RollupMark.objects.get(name=history.MARK).until - timedelta(minutes=1)
    Rollup.objects.update_or_create(scope=scope, name=name, resolution=MINUTE, bucket=last, defaults=figures)


async def attribute(locator: Locator, name: str) -> str:
    """An attribute that every chart line carries."""
    value = await locator.get_attribute(name)
    assert value is not None, name
    return value


def line(page: Page, name: str, chart: str, kind: str) -> Locator:
    return page.locator(f'.chart-row[data-name="{name}"] svg[data-chart="{chart}"] path.line-{kind}')


async def test_the_dashboard_draws_every_queues_history_and_reads_other_ranges(
    browser: CheckedBrowser, server: Server, tmp_path: Path
) -> None:
    await busy_hour()
    page = await open_as_operator(browser, server, "/admin/retry/taskrecord/dashboard/")
    await expect(page.locator("#feed-state")).to_have_text("live")
    rows = page.locator("#retry-charts .chart-row")
    await expect(rows).to_have_count(4)  # every queue, the idle "default" too
    succeeded = line(page, "emails", "started", "succeeded")
    assert int(await attribute(succeeded, "data-points")) >= 50  # a point a minute with successes
    assert (await attribute(succeeded, "d")).count("L") >= 50
    assert int(await attribute(line(page, "webhooks", "started", "failed"), "data-points")) >= 5
    assert int(await attribute(line(page, "emails", "wait_p95", "wait_p95"), "data-points")) >= 50
    assert int(await attribute(line(page, "emails", "ready", "ready"), "data-points")) >= 10
    await expect(page.locator("#retry-charts .chart-until")).to_contain_text("rolled up until")
    await page.screenshot(path=(Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path) / "dashboard.png", full_page=True)

    await a_minute_more(Rollup.Scope.QUEUE, "default", started=5, succeeded=5)
    await page.clock.fast_forward(10_000)  # the feed's figures come every 5 s; the charts were read 10 s ago
    await page.wait_for_timeout(1000)
    await expect(line(page, "default", "started", "succeeded")).to_have_attribute("data-points", "0")
    await page.clock.fast_forward(6_000)  # past 15 s: the next figures bring the charts' history again
    await expect(line(page, "default", "started", "succeeded")).to_have_attribute("data-points", "1")

    await page.get_by_role("button", name="last week").click()
    await expect(page.locator("#retry-charts button[data-range=week]")).to_have_attribute("aria-pressed", "true")
    # The last hour's minutes fall into the two clock hours they touch (one, when the hour began on the dot).
    await expect(line(page, "emails", "started", "succeeded")).to_have_attribute("data-points", re.compile("^[12]$"))


async def test_each_task_name_has_a_page_of_its_charts(browser: CheckedBrowser, server: Server) -> None:
    await busy_hour()
    page = await open_as_operator(browser, server, "/admin/retry/taskrecord/dashboard/")
    await page.locator("#retry-charts .chart-tasks").get_by_role("link", name="orders.tasks.deliver_webhook").click()
    await expect(page).to_have_url(server.url + "/admin/retry/taskrecord/dashboard/tasks/orders.tasks.deliver_webhook/")
    await expect(page.locator("#retry-charts .chart-row")).to_have_count(1)
    assert int(await attribute(line(page, "orders.tasks.deliver_webhook", "started", "retried"), "data-points")) >= 5
    await a_minute_more(Rollup.Scope.TASK, "orders.tasks.deliver_webhook", lost=3)
    await page.clock.fast_forward(31_000)  # a task page reads its live hour again every 30 s
    await expect(line(page, "orders.tasks.deliver_webhook", "started", "lost")).to_have_attribute("data-points", "1")
    await page.get_by_role("button", name="last day").click()
    await expect(page.locator("#retry-charts button[data-range=day]")).to_have_attribute("aria-pressed", "true")
    day = line(page, "orders.tasks.deliver_webhook", "started", "started")
    await expect(day).to_have_attribute("data-points", str(await attribute(day, "data-points")))
    assert int(await attribute(day, "data-points")) >= 50  # the same minutes, among the day's 1,440
