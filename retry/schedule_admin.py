"""Admin for periodic schedules: enable, disable, edit or add them, each validated; and the schedules page."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from retry import clock, conf, schedules
from retry.models import Schedule
from retry.monitoring import operations, timetable


class ScheduleForm(forms.ModelForm):  # type: ignore[type-arg]
    """Saves only a schedule the dispatcher can run: a task of the retry backend, one valid period, a known time
    zone, and arguments a task row stores."""

    class Meta:
        model = Schedule
        fields = ("name", "task_path", "every", "cron", "timezone", "enabled", "args", "kwargs")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        every, cron = cleaned.get("every"), (cleaned.get("cron") or "").strip()
        cleaned["cron"] = cron
        if (every is None) == (not cron):
            self.add_error("every" if every is not None else "cron", "Give either 'every' (seconds) or a cron.")
        elif said := schedules.period_problem({"every": every} if every is not None else {"cron": cron}):
            self.add_error("every" if every is not None else "cron", said)
        for field, said in (
            ("task_path", schedules.task_problem(cleaned.get("task_path"))),
            ("timezone", schedules.zone_problem(cleaned.get("timezone"))),
            ("args", schedules.arguments_problem({"args": cleaned.get("args", [])})),
            ("kwargs", schedules.arguments_problem({"kwargs": cleaned.get("kwargs", {})})),
        ):
            if said and field in cleaned:
                self.add_error(field, said)
        both = {"args": cleaned.get("args") or [], "kwargs": cleaned.get("kwargs") or {}}
        if not self.errors and (said := schedules.arguments_problem(both)):
            self.add_error("kwargs", said)
        return cleaned


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ScheduleForm
    list_display = ("name", "task_path", "period", "enabled", "origin")
    list_filter = ("enabled", "source")
    search_fields = ("name", "task_path")
    actions = ("enable", "disable", "reset")
    change_list_template = "admin/retry/schedule/change_list.html"

    @admin.display(description="when")
    def period(self, schedule: Schedule) -> str:
        return timetable.period(schedule)

    @admin.display(description="from")
    def origin(self, schedule: Schedule) -> str:
        return timetable.origin(schedule)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        """A settings' schedule keeps its name: the settings find it by its name."""
        return ("name",) if obj is not None and obj.source == Schedule.Source.SETTINGS else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """A schedule of RETRY_PERIODIC would come back at the next load: disable it instead."""
        if obj is not None and obj.source == Schedule.Source.SETTINGS and obj.name in (conf.get().PERIODIC or {}):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Schedule, form: Any, change: bool) -> None:
        if not change:
            obj.source = Schedule.Source.ADMIN
        if change and set(form.changed_data) & set(schedules.DEFINITION):
            obj.edited_at, obj.edited_by = clock.now(), request.user.get_username()
        operations.save_schedule(obj, request.user.get_username())

    def delete_model(self, request: HttpRequest, obj: Schedule) -> None:
        operations.delete_schedules([obj.name], request.user.get_username())

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        operations.delete_schedules(queryset.values_list("name", flat=True), request.user.get_username())

    @admin.action(description="Enable selected schedules", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        self._act(request, queryset, operations.enable_schedules, "enabled")

    @admin.action(description="Disable selected schedules", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        self._act(request, queryset, operations.disable_schedules, "disabled")

    @admin.action(description="Follow the settings again (forget operators' edits)", permissions=["change"])
    def reset(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        self._act(request, queryset, operations.reset_schedules, "reset to RETRY_PERIODIC")

    def _act(self, request: HttpRequest, queryset: QuerySet[Schedule], run: Any, done: str) -> None:
        changed = run(queryset.values_list("name", flat=True), request.user.get_username())
        self.message_user(request, f"{changed} schedule(s) {done}.", messages.SUCCESS if changed else messages.WARNING)

    def get_urls(self) -> list[URLPattern]:
        return [
            path("overview/", self.admin_site.admin_view(self.overview), name="retry_schedules"),
            *super().get_urls(),
        ]

    def overview(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return timetable.page(request, self.admin_site)
