"""Periodic schedules' claims: one enqueue per period."""

from django.db import models

from retry.models.records import TaskRecord


class PeriodicRun(models.Model):
    """The last period each schedule was enqueued for: one claim per period, however many dispatchers run."""

    name = models.CharField(max_length=100, primary_key=True)
    period_start = models.DateTimeField()
    task = models.ForeignKey(TaskRecord, null=True, blank=True, on_delete=models.DB_SET_NULL, related_name="+")

    def __str__(self) -> str:
        return f"{self.name} @ {self.period_start:%Y-%m-%d %H:%M:%S}"
