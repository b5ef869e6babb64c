"""The charts' figures and pages: read from the Rollup rows alone (retry.monitoring.history writes them), in two
queries, the mark and the rows of the range, however many task and attempt rows there are."""

from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from retry import conf, text
from retry.models import Rollup, RollupMark
from retry.models.rollups import HOUR, MINUTE
from retry.monitoring import history

#: The ranges a chart shows: (seconds a point covers, points). The live range is the last hour.
RANGES = {"hour": (MINUTE, 60), "day": (MINUTE, 24 * 60), "week": (HOUR, 7 * 24), "month": (HOUR, 30 * 24)}
LIVE = "hour"
#: Counters, shown per minute (an hour's count is spread over its minutes).
RATES = history.COUNTERS
#: Values shown as they are; None where nothing was measured. The backlog is 0 where no task was due.
LEVELS = ("oldest_ready_age", "wait_p95", "run_p95")
#: Names one request may ask for at most.
MAX_NAMES = 20
SCOPES = {scope.value for scope in Rollup.Scope}


class BadRequest(ValueError):
    """Raised when a chart is asked for with a range, scope or name it does not have."""


def read(scope: str, span: str = LIVE, names: list[str] | None = None) -> dict[str, Any]:
    """Every series of ``scope`` (or of ``names`` in it) over ``span``, up to the last minute rolled up."""
    if scope not in SCOPES:
        raise BadRequest(f"Unknown scope {scope!r}: choose one of {', '.join(sorted(SCOPES))}.")
    if names is not None and (len(names) > MAX_NAMES or any(len(name) > 255 for name in names)):
        raise BadRequest(f"Ask for {MAX_NAMES} names at most, each of 255 characters at most.")
    if names is not None and (said := next(filter(None, map(text.problem, names)), None)):
        raise BadRequest(f"A name {said}.")
    if span not in RANGES:
        raise BadRequest(f"Unknown range {span!r}: choose one of {', '.join(RANGES)}.")
    resolution, points = RANGES[span]
    until = RollupMark.objects.filter(name=history.MARK).values_list("until", flat=True).first()
    shown = sorted(set(names if names is not None else (conf.queues() if scope == Rollup.Scope.QUEUE else [])))
    figures: dict[str, Any] = {"range": span, "step": resolution, "points": points, "until": None, "start": None}
    if until is None:
        return {**figures, "series": [empty(name, points) for name in shown]}
    last = history.floor(until - timedelta(minutes=1), resolution)
    first = last - timedelta(seconds=resolution * (points - 1))
    rows = Rollup.objects.filter(scope=scope, resolution=resolution, bucket__gte=first, bucket__lte=last)
    if names is not None:
        rows = rows.filter(name__in=names)
    series: dict[str, dict[str, Any]] = {name: empty(name, points) for name in shown}
    for row in rows.values("name", "bucket", *RATES, "ready", *LEVELS):
        index = round((row["bucket"] - first).total_seconds() / resolution)
        minutes = minutes_in(row["bucket"], resolution, until)
        line = series.setdefault(row["name"], empty(row["name"], points))
        for rate in RATES:
            line[rate][index] = round(row[rate] / minutes, 3)
        line["ready"][index] = row["ready"] or 0
        for level in LEVELS:
            line[level][index] = None if row[level] is None else round(row[level], 3)
    return {**figures, "until": until.isoformat(), "start": first.isoformat(), "series": list(series.values())}


def empty(name: str, points: int) -> dict[str, Any]:
    """No attempt and no backlog; nothing measured."""
    line: dict[str, Any] = {"name": name, "ready": [0] * points}
    return line | {rate: [0] * points for rate in RATES} | {level: [None] * points for level in LEVELS}


def minutes_in(bucket: datetime, resolution: int, until: datetime) -> float:
    """Minutes of the bucket rolled up: all of them, but in the hour under way."""
    return max(min(resolution, (until - bucket).total_seconds()), MINUTE) / MINUTE


def task_names() -> list[str]:
    """The task names with history, for the links to their pages."""
    rows = Rollup.objects.filter(scope=Rollup.Scope.TASK, resolution=HOUR).values_list("name", flat=True)
    return list(rows.distinct().order_by("name"))


def dashboard_context() -> dict[str, Any]:
    """What the dashboard's chart block needs: every queue's live hour and the task names to link to."""
    return {"charts": read(Rollup.Scope.QUEUE), "chart_tasks": task_names(), "chart_ranges": list(RANGES)}


def data(request: HttpRequest) -> JsonResponse:
    """GET ?scope=queue|task&range=hour|day|week|month[&name=...]: the series, as JSON."""
    names = request.GET.getlist("name") or None
    try:
        return JsonResponse(read(request.GET.get("scope", "queue"), request.GET.get("range", LIVE), names))
    except BadRequest as error:
        return JsonResponse({"error": str(error)}, status=400)


def task_page(request: HttpRequest, site: admin.AdminSite, task_path: str) -> TemplateResponse:
    """One task name's charts, every range; a name no task can have is no page."""
    if text.problem(task_path):
        raise Http404("No task has this name.")
    context = {
        **site.each_context(request),
        "title": f"Task {task_path}",
        "task_path": task_path,
        "charts": read(Rollup.Scope.TASK, LIVE, [task_path]),
        "chart_ranges": list(RANGES),
        "charts_url": reverse("admin:retry_dashboard_charts"),
    }
    return TemplateResponse(request, "retry/task_charts.html", context)
