"""The audit log: every operator action, who ran it, on what, how many tasks it changed and when; kept for good.

Housekeeping never removes these rows, and nothing deletes them but a database administrator. A batch action
on everything a filter matches (retry.monitoring.batches) is one row too, its progress written on it.
"""

from django.db import models


class AuditEntry(models.Model):
    """One operator action."""

    class State(models.TextChoices):
        # A batch action whose batches are under way.
        RUNNING = "RUNNING", "Running"
        # Done: ``changed`` of ``processed`` tasks changed.
        DONE = "DONE", "Done"
        # Stopped before its end, and nothing carries it on (the terminal that ran it was interrupted).
        INTERRUPTED = "INTERRUPTED", "Interrupted"

    at = models.DateTimeField("when")
    operator = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    #: The filter of a batch action (retry.monitoring.search.TaskFilter.as_dict); null for named targets.
    filter = models.JSONField(null=True, blank=True)
    #: The targets an action was given by name, by kind ({"task_ids": [...]}), long lists cut short (with their count).
    targets = models.JSONField(default=dict, blank=True)
    #: Targets the action was given, or the tasks a filter matched when the operator confirmed (the count shown).
    total = models.PositiveIntegerField(default=0)
    #: Tasks a batch action has gone through so far.
    processed = models.PositiveIntegerField(default=0)
    #: Tasks the action changed.
    changed = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=12, choices=State.choices, default=State.DONE)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: The last task id a batch action went through: the batch task, run again, carries on after it.
    cursor = models.CharField(max_length=36, blank=True)
    #: The task that runs a batch action (empty when the terminal ran it).
    task_id = models.CharField(max_length=36, blank=True)

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["at"], name="retry_audit_at")]

    def __str__(self) -> str:
        return f"{self.operator} ran {self.action} at {self.at:%Y-%m-%d %H:%M:%S}: {self.changed} changed"

    @property
    def finished(self) -> bool:
        return self.state == self.State.DONE
