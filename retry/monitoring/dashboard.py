"""The task dashboard page in the admin, and the operator actions it offers (each confirmed first)."""

import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from retry import conf
from retry.models import TaskRecord
from retry.monitoring import operations, stats

CONFIRM_TEMPLATE = "admin/retry/confirm_action.html"
QUESTIONS = {
    "retry_now": "Retry this dead task now, with a fresh budget of attempts?",
    "cancel": "Cancel this task? A ready task will not run; a running one is stopped, and neither is retried.",
    "requeue_dead": "Retry now every dead task of this name?",
    "purge": "Remove this finished task and its attempts for good?",
}


def page(request: HttpRequest, site: admin.AdminSite, *, can_operate: bool) -> TemplateResponse:
    """The figures as of now; the page's script keeps them fresh over the feed."""
    context = {
        **site.each_context(request),
        "title": "Task dashboard",
        "figures": stats.snapshot().as_dict(),
        # Where the page's script connects: the feed retry.routing serves, under the prefix the site is mounted at.
        "feed_path": request.META.get("SCRIPT_NAME", "").rstrip("/") + "/" + conf.get().FEED_PATH,
        "can_operate": can_operate,
        "questions": QUESTIONS,
    }
    return TemplateResponse(request, "retry/dashboard.html", context)


@require_POST
def action(request: HttpRequest, site: admin.AdminSite, *, can_operate: bool) -> HttpResponse:
    """Ask for confirmation, then run one action on one task id or task name and go back to the dashboard."""
    if not can_operate:
        return HttpResponseForbidden("Only operators who may change tasks can do this.")
    name, target = request.POST.get("action", ""), request.POST.get("target", "").strip()
    if name not in operations.ACTIONS or not valid_target(name, target):
        return HttpResponseBadRequest("Unknown action or task.")
    if request.POST.get("confirmed") != "yes":
        return confirm(request, site, name, target)
    run, _ = operations.ACTIONS[name]
    changed = run([target], request.user.get_username())
    level = messages.SUCCESS if changed else messages.WARNING
    messages.add_message(request, level, f"{name.replace('_', ' ')}: {changed} task(s) changed.")
    return redirect("admin:retry_dashboard")


def valid_target(name: str, target: str) -> bool:
    if operations.ACTIONS[name][1] == "paths":
        return bool(target)
    try:
        uuid.UUID(target)
    except ValueError:
        return False
    return True


def confirm(request: HttpRequest, site: admin.AdminSite, name: str, target: str) -> TemplateResponse:
    if operations.ACTIONS[name][1] == "paths":
        tasks: list[Any] = [f"every dead task of {target}"]
    else:
        tasks = list(TaskRecord.objects.filter(pk=target)) or [f"task {target} (not found)"]
    hidden = [("action", name), ("target", target), ("confirmed", "yes")]
    return confirmation(request, site, QUESTIONS[name], tasks, hidden, reverse("admin:retry_dashboard_action"))


def confirmation(
    request: HttpRequest,
    site: admin.AdminSite,
    question: str,
    tasks: Iterable[Any],
    hidden: list[tuple[str, str]],
    form_action: str,
) -> TemplateResponse:
    """The intermediate page every operator action passes through."""
    context = {
        **site.each_context(request),
        "title": "Are you sure?",
        "question": question,
        "tasks": tasks,
        "hidden": hidden,
        "form_action": form_action,
    }
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)
