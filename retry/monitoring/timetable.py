"""The schedules page: every periodic schedule with its last run, how that run ended, and its next run."""

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from retry import clock, schedules
from retry.models import PeriodicRun, Schedule


@dataclass(frozen=True)
class Line:
    """One schedule as the page shows it; times are in the schedule's time zone."""

    schedule: Schedule
    period: str
    origin: str
    last_run: str
    last_task_id: str
    outcome: str
    next_run: str


def lines(now: datetime) -> list[Line]:
    """Every schedule, in two queries however many there are."""
    runs = {run.name: run for run in PeriodicRun.objects.select_related("task")}
    return [line(schedule, runs.get(schedule.name), now) for schedule in Schedule.objects.all()]


def line(schedule: Schedule, run: PeriodicRun | None, now: datetime) -> Line:
    task = run.task if run is not None else None
    return Line(
        schedule=schedule,
        period=period(schedule),
        origin=origin(schedule),
        last_run=shown(run.period_start, schedule) if run is not None else "never",
        last_task_id=str(task.pk) if task is not None else "",
        outcome=outcome(run),
        next_run=next_run(schedule, run, now),
    )


def period(schedule: Schedule) -> str:
    if schedule.cron:
        return f"cron {schedule.cron} ({schedule.timezone})"
    return f"every {schedule.every:g} s"


def origin(schedule: Schedule) -> str:
    if schedule.source == Schedule.Source.ADMIN:
        return "added in the admin"
    if schedule.edited_at is not None:
        return f"RETRY_PERIODIC, edited by {schedule.edited_by or 'an operator'}"
    return "RETRY_PERIODIC"


def outcome(run: PeriodicRun | None) -> str:
    if run is None:
        return ""
    if run.task is None:
        return "removed (purged)"
    if run.task.error_class:
        return f"{run.task.status}: {run.task.error_class.rsplit('.', 1)[-1]}"
    return str(run.task.status)


def next_run(schedule: Schedule, run: PeriodicRun | None, now: datetime) -> str:
    """When the dispatcher enqueues it next: at its next pass if this period has not run yet."""
    if not schedule.enabled:
        return "disabled"
    spec = schedule.spec()
    try:
        start = schedules.period_start(spec, now)
        if run is None or run.period_start < start:
            return "at the dispatcher's next pass"
        return shown(schedules.next_start(spec, now), schedule)
    except (
        ValueError,
        KeyError,
        OverflowError,
        zoneinfo.ZoneInfoNotFoundError,
    ) as error:  # a row written around the admin
        return f"never: {error}"


def shown(moment: datetime, schedule: Schedule) -> str:
    try:
        zone = zoneinfo.ZoneInfo(schedule.timezone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        zone = zoneinfo.ZoneInfo("UTC")
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}"


def page(request: HttpRequest, site: admin.AdminSite) -> TemplateResponse:
    context = {**site.each_context(request), "title": "Periodic schedules", "lines": lines(clock.now())}
    return TemplateResponse(request, "retry/schedules.html", context)
