"""The search page of the dashboard: the tasks a filter matches, and retry, cancel or purge of all of them.

An action asks first, stating how many tasks it will take, then starts a batch action (retry.monitoring.batches)
and shows its progress page, which follows the audit row until the batch is done. Staff who may view tasks see
everything; only operators get the buttons, and the actions refuse everyone else with 403.
"""

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from retry import models
from retry.monitoring import access, batches, dashboard, search

PER_PAGE = 50
#: Tasks the confirmation lists by name, before "and N more".
SHOWN = 10
QUESTIONS = {
    "retry_now": "Retry now, each with a fresh budget of attempts, the {count} dead tasks this filter matches?",
    "cancel": (
        "Cancel the {count} ready or running tasks this filter matches? Ready ones will not run, running ones are"
        " stopped; none is retried."
    ),
    "purge": "Remove for good the {count} finished tasks this filter matches, and their attempts?",
}
LABELS = {"retry_now": "Retry now", "cancel": "Cancel", "purge": "Purge"}


@require_GET
def page(request: HttpRequest, site: admin.AdminSite) -> TemplateResponse:
    if not access.can_view(request.user):
        raise PermissionDenied
    form = search.FilterForm(request.GET)
    found, fields = None, []
    if form.is_valid():
        task_filter = form.task_filter()
        fields = pairs(task_filter)
        tasks = task_filter.tasks().order_by("-enqueued_at", "-pk")
        found = Paginator(tasks, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        **site.each_context(request),
        "title": "Find tasks",
        "form": form,
        "data": {name: request.GET.getlist(name) for name in form.fields},
        "queues": form.fields["queue"].choices,  # type: ignore[attr-defined]
        "statuses": form.fields["status"].choices,  # type: ignore[attr-defined]
        "found": found,
        "query": urlencode(fields),
        "fields": fields,
        "can_operate": access.can_operate(request.user),
        "actions": LABELS,
        "batches": models.AuditEntry.objects.filter(filter__isnull=False)[:5],
    }
    return TemplateResponse(request, "retry/search.html", context)


@require_POST
def act(request: HttpRequest, site: admin.AdminSite) -> HttpResponse:
    """Ask, stating the count; once confirmed, start the batch action and show its progress."""
    if not access.can_operate(request.user):
        return HttpResponseForbidden("Only operators who may change tasks can do this.")
    action = request.POST.get("action", "")
    if action not in batches.ELIGIBLE:
        return HttpResponseBadRequest("Unknown action.")
    try:
        task_filter = search.read(request.POST)
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    if request.POST.get("confirmed") != "yes":
        return confirm(request, site, action, task_filter)
    entry = batches.start(action, task_filter, request.user.get_username())
    return redirect("admin:retry_batch", entry.pk)


def confirm(request: HttpRequest, site: admin.AdminSite, action: str, task_filter: search.TaskFilter) -> HttpResponse:
    matches = batches.matches(action, task_filter)
    count = matches.count()
    shown: list[Any] = list(matches.order_by("-enqueued_at", "-pk")[:SHOWN])
    if count > SHOWN:
        shown.append(f"… and {count - SHOWN:,} more")
    question = f"{QUESTIONS[action].format(count=f'{count:,}')} ({task_filter.describe()})"
    hidden = [*pairs(task_filter), ("action", action), ("confirmed", "yes")]
    return dashboard.confirmation(request, site, question, shown, hidden, reverse("admin:retry_search_act"))


@require_GET
def batch(request: HttpRequest, site: admin.AdminSite, entry_id: int) -> HttpResponse:
    """A batch action's progress: the page, or (?format=json) the figures its script polls."""
    if not access.can_view(request.user):
        raise PermissionDenied
    entry = get_object_or_404(models.AuditEntry, pk=entry_id, filter__isnull=False)
    if request.GET.get("format") == "json":
        return JsonResponse(progress(entry))
    task_filter = search.read(entry.filter)
    context = {
        **site.each_context(request),
        "title": f"{LABELS.get(entry.action, entry.action)}: progress",
        "entry": entry,
        "described": task_filter.describe(),
        "progress": progress(entry),
        "back": reverse("admin:retry_search") + "?" + urlencode(pairs(task_filter)),
    }
    return TemplateResponse(request, "retry/batch.html", context)


def progress(entry: models.AuditEntry) -> dict[str, Any]:
    task = models.TaskRecord.objects.filter(pk=entry.task_id).first() if entry.task_id else None
    return {
        "state": entry.state,
        "total": entry.total,
        "processed": entry.processed,
        "changed": entry.changed,
        "finished_at": entry.finished_at.isoformat() if entry.finished_at else None,
        # The batch task's own state: a batch that fails is retried by its task, and stays RUNNING meanwhile.
        "task_status": task.status if task else None,
        "task_error": task.error_message[:500] if task else "",
    }


def pairs(task_filter: search.TaskFilter) -> list[tuple[str, str]]:
    """The filter as the name-value pairs of a query string or of a form's hidden fields."""
    found = []
    for name, value in task_filter.as_dict().items():
        found += [(name, str(item)) for item in value] if isinstance(value, list) else [(name, str(value))]
    return found
