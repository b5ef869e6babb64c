"""Enqueue the example's tasks, and read a task's result, through Django's Tasks API."""

import json

from django.contrib.admin.views.decorators import staff_member_required
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.exceptions import TaskResultDoesNotExist
from django.views.decorators.http import require_GET, require_POST

from outside import tasks


@require_POST
@staff_member_required
def enqueue(request: HttpRequest) -> JsonResponse:
    """Both tasks in one transaction: they run only once it commits."""
    word = json.loads(request.body or b"{}").get("word", "hello")
    with transaction.atomic():
        shout = tasks.shout.enqueue(word)
        doomed = tasks.doomed.enqueue()
    return JsonResponse({"shout": shout.id, "doomed": doomed.id})


@require_GET
@staff_member_required
def result(request: HttpRequest, task_id: str) -> JsonResponse:
    try:
        found = default_task_backend.get_result(task_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"error": "no such task"}, status=404)
    return JsonResponse(
        {
            "status": found.status,
            "attempts": found.attempts,
            "errors": [error.exception_class_path for error in found.errors],
            "return_value": found.return_value if found.status == TaskResultStatus.SUCCESSFUL else None,
        }
    )
