"""Periodic schedules, and their claims: one enqueue per period."""

from typing import Any

from django.db import models
from django.db.models import Q

from retry.models.records import TaskRecord


class Schedule(models.Model):
    """A periodic task: what to enqueue, and when; the dispatcher reads this table on every pass.

    RETRY_PERIODIC's entries are loaded into it (retry.schedules.load_settings); an operator enables, disables,
    edits or adds schedules in the admin, and a row an operator edited no longer follows the settings.
    """

    class Source(models.TextChoices):
        # An entry of RETRY_PERIODIC.
        SETTINGS = "settings", "RETRY_PERIODIC"
        # Added by an operator in the admin.
        ADMIN = "admin", "the admin"

    name = models.CharField(max_length=100, unique=True)
    task_path = models.CharField("task", max_length=255, help_text="The dotted path of a task of the retry backend.")
    every = models.FloatField(
        null=True, blank=True, help_text="Seconds between runs, counted from the Unix epoch (UTC); or give a cron."
    )
    cron = models.CharField(
        max_length=100, blank=True, help_text="A cron expression (minute hour day month weekday), in the time zone."
    )
    timezone = models.CharField("time zone", max_length=64, default="UTC", help_text="e.g. UTC, Europe/Paris.")
    enabled = models.BooleanField(default=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ADMIN, editable=False)
    #: The operator's edit of the schedule itself (not enabling or disabling it): the settings no longer change it.
    edited_at = models.DateTimeField(null=True, blank=True, editable=False)
    edited_by = models.CharField(max_length=150, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(every__isnull=True, cron__gt="") | Q(every__gt=0, cron=""), name="retry_schedule_one_period"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def spec(self) -> dict[str, Any]:
        """The schedule as a RETRY_PERIODIC entry reads."""
        period: dict[str, Any] = {"cron": self.cron} if self.cron else {"every": self.every}
        return {"task": self.task_path, **period, "timezone": self.timezone, "args": self.args, "kwargs": self.kwargs}


class PeriodicRun(models.Model):
    """The last period each schedule was enqueued for: one claim per period, however many dispatchers run."""

    name = models.CharField(max_length=100, primary_key=True)
    period_start = models.DateTimeField()
    task = models.ForeignKey(TaskRecord, null=True, blank=True, on_delete=models.DB_SET_NULL, related_name="+")

    def __str__(self) -> str:
        return f"{self.name} @ {self.period_start:%Y-%m-%d %H:%M:%S}"
