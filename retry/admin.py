"""Admin for tasks, their attempt timeline, policy overrides and workers; operator actions ask first and log."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.html import format_html

from retry import clock, conf, registry
from retry.exceptions import TaskNotRegistered
from retry.forms import PolicyOverrideForm
from retry.models import Heartbeat, PolicyOverride, TaskAttempt, TaskRecord
from retry.monitoring import dashboard, operations, stats
from retry.schedule_admin import ScheduleAdmin  # noqa: F401  (registers the admin of periodic schedules)

#: The task page's sections: (title, fields).
TASK_SECTIONS: tuple[tuple[str | None, tuple[str, ...]], ...] = (
    (None, ("id", "task_path", "queue", "priority", "status", "attempt", "idempotency_key")),
    ("Arguments", ("args", "kwargs")),
    ("Policy in force", ("policy_in_force", "time_limit", "ignore_result")),
    ("Times", ("enqueued_at", "run_after", "expires_at", "started_at", "last_attempted_at", "finished_at")),
    ("Claim", ("worker_id", "lease_until", "notified_at", "cancel_requested_at")),
    ("Outcome", ("return_value", "error_class", "error_message", "error_traceback")),
)
READONLY = tuple(name for _, names in TASK_SECTIONS for name in names)


class TaskAttemptInline(admin.TabularInline):  # type: ignore[type-arg]
    """The timeline: every attempt, who ran it, for how long, how it ended and how long the policy waited next."""

    model = TaskAttempt
    verbose_name_plural = "timeline"
    fields = ("number", "worker_id", "started_at", "seconds", "outcome", "error", "next_delay")
    readonly_fields = fields
    ordering = ("number", "started_at")
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="duration (s)")
    def seconds(self, attempt: TaskAttempt) -> str:
        return f"{attempt.duration:.3f}"

    @admin.display(description="error")
    def error(self, attempt: TaskAttempt) -> str:
        return stats.short_error(attempt)


@admin.register(TaskRecord)
class TaskRecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "name", "queue", "status", "attempt", "run_after", "enqueued_at", "finished_at", "error")
    list_filter = ("status", "queue", "task_path")
    search_fields = ("=id", "task_path")
    ordering = ("-enqueued_at",)
    inlines = (TaskAttemptInline,)
    actions = ("retry_now", "cancel", "requeue_dead", "purge")
    fieldsets = tuple((title, {"fields": names}) for title, names in TASK_SECTIONS)
    readonly_fields = READONLY
    change_list_template = "admin/retry/taskrecord/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Operators are those allowed to change tasks; the pages themselves stay read-only."""
        return request.user.has_perm("retry.change_taskrecord")

    @admin.display(description="attempt")
    def attempt(self, task: TaskRecord) -> str:
        """Attempts charged to the policy, of its maximum; recoveries (lost beside others) are not charged."""
        charged = f"{task.failures}/{task.max_attempts}"
        return f"{charged} + {task.recoveries} recovered" if task.recoveries else charged

    @admin.display(description="task", ordering="task_path")
    def name(self, task: TaskRecord) -> str:
        return task.name

    @admin.display(description="error")
    def error(self, task: TaskRecord) -> str:
        return stats.short_error(task, limit=80)

    @admin.display(description="numbers")
    def policy_in_force(self, task: TaskRecord) -> str:
        return describe_policy(task.policy, registry.overrides().get(task.task_path))

    @admin.action(description="Retry selected dead tasks now", permissions=["operate"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[TaskRecord]) -> HttpResponse | None:
        ids = [str(pk) for pk in queryset.values_list("pk", flat=True)]
        return self.confirm(request, queryset, "retry_now", lambda who: operations.retry_now(ids, who), "retried")

    @admin.action(description="Cancel selected ready or running tasks", permissions=["operate"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[TaskRecord]) -> HttpResponse | None:
        ids = [str(pk) for pk in queryset.values_list("pk", flat=True)]
        return self.confirm(request, queryset, "cancel", lambda who: operations.cancel(ids, who), "cancelled")

    @admin.action(description="Requeue all dead tasks of the selected tasks' names", permissions=["operate"])
    def requeue_dead(self, request: HttpRequest, queryset: QuerySet[TaskRecord]) -> HttpResponse | None:
        paths = set(queryset.values_list("task_path", flat=True))
        return self.confirm(
            request, queryset, "requeue_dead", lambda who: operations.requeue_dead(paths, who), "requeued"
        )

    @admin.action(description="Purge selected finished tasks", permissions=["operate"])
    def purge(self, request: HttpRequest, queryset: QuerySet[TaskRecord]) -> HttpResponse | None:
        ids = [str(pk) for pk in queryset.values_list("pk", flat=True)]
        return self.confirm(request, queryset, "purge", lambda who: operations.purge(ids, who), "purged")

    def confirm(
        self,
        request: HttpRequest,
        queryset: QuerySet[TaskRecord],
        action: str,
        run: Callable[[str], int],
        done: str,
    ) -> HttpResponse | None:
        """Show what the action will touch and ask; run it once the operator confirms."""
        if request.POST.get("confirmed") == "yes":
            changed = run(request.user.get_username())
            self.message_user(request, f"{changed} task(s) {done}.", messages.SUCCESS if changed else messages.WARNING)
            return None
        hidden = [("action", action), ("confirmed", "yes")]
        hidden += [(helpers.ACTION_CHECKBOX_NAME, str(pk)) for pk in queryset.values_list("pk", flat=True)]
        description = str(getattr(self, action).short_description)
        return dashboard.confirmation(request, self.admin_site, description, list(queryset[:100]), hidden, "")

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("dashboard/", wrap(self.dashboard), name="retry_dashboard"),
            path("dashboard/action/", wrap(self.dashboard_action), name="retry_dashboard_action"),
            *super().get_urls(),
        ]

    def dashboard(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return dashboard.page(request, self.admin_site, can_operate=self.has_operate_permission(request))

    def dashboard_action(self, request: HttpRequest) -> HttpResponse:
        return dashboard.action(request, self.admin_site, can_operate=self.has_operate_permission(request))


def describe_policy(numbers: dict[str, Any], override: dict[str, Any] | None) -> str:
    """The policy a task was enqueued under, in words, and any override that applies only to later tasks."""
    if not numbers:
        return "settings' defaults"
    text = (
        f"{numbers.get('max_attempts')} attempts at most; first retry after {numbers.get('base_delay')} s, "
        f"each wait {numbers.get('factor')}x the one before, at most {numbers.get('max_delay')} s, "
        f"plus up to {100 * float(numbers.get('jitter') or 0):.0f} % random jitter"
    )
    changed = {key: value for key, value in (override or {}).items() if numbers.get(key) != value}
    if changed:
        shown = ", ".join(f"{key}={value}" for key, value in sorted(changed.items()))
        return format_html("{}<br>An override ({}) applies to tasks enqueued after it.", text, shown)
    return text


@admin.register(PolicyOverride)
class PolicyOverrideAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = PolicyOverrideForm
    list_display = (
        "task_path",
        "task_found",
        "max_attempts",
        "base_delay",
        "factor",
        "max_delay",
        "jitter",
        "note",
        "updated_at",
    )
    search_fields = ("task_path", "note")

    @admin.display(description="task found", boolean=True)
    def task_found(self, override: PolicyOverride) -> bool:
        """False for an override whose task this deploy does not have (renamed, removed, or a typo)."""
        try:
            registry.load(override.task_path)
        except TaskNotRegistered:
            return False
        return True

    def save_model(self, request: HttpRequest, obj: PolicyOverride, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        registry.forget_overrides()

    def delete_model(self, request: HttpRequest, obj: PolicyOverride) -> None:
        super().delete_model(request, obj)
        registry.forget_overrides()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PolicyOverride]) -> None:
        super().delete_queryset(request, queryset)
        registry.forget_overrides()


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("process_id", "kind", "host", "pid", "queues", "concurrency", "running", "last_seen", "alive")
    list_filter = ("kind", "host")
    ordering = ("kind", "host", "pid")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="current tasks")
    def running(self, beat: Heartbeat) -> int:
        return len(beat.current_tasks)

    @admin.display(description="alive", boolean=True)
    def alive(self, beat: Heartbeat) -> bool:
        """False once the process has been silent for RETRY_WORKER_STALE_AFTER: stale."""
        return beat.last_seen >= clock.now() - timedelta(seconds=conf.get().WORKER_STALE_AFTER)
