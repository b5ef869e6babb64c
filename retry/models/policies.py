"""Operators' changes to a task's retry policy."""

from typing import Any

from django.db import models
from django.db.models import F, Q


def unset_or(**lookups: Any) -> Q:
    """The field of ``lookups`` is blank (NULL), or meets them."""
    field = next(iter(lookups)).split("__")[0]
    return Q(**{f"{field}__isnull": True}) | Q(**lookups)


class PolicyOverride(models.Model):
    """An operator's change to a task's retry policy, for tasks enqueued after it; blank fields keep the code's."""

    task_path = models.CharField("task", max_length=255, unique=True)
    max_attempts = models.PositiveIntegerField(null=True, blank=True)
    base_delay = models.FloatField(null=True, blank=True, help_text="Seconds before the first retry.")
    factor = models.FloatField(null=True, blank=True, help_text="Growth of each delay over the previous one.")
    max_delay = models.FloatField(null=True, blank=True, help_text="Longest delay, in seconds.")
    jitter = models.FloatField(null=True, blank=True, help_text="Random extra wait, as a fraction of the delay.")
    note = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "retry policy override"
        # What no policy can work with, whatever writes the row; the floor (RETRY_MIN_DELAY) is the form's.
        constraints = [
            models.CheckConstraint(condition=unset_or(max_attempts__gte=1), name="retry_override_attempts"),
            models.CheckConstraint(condition=unset_or(base_delay__gt=0), name="retry_override_base_delay"),
            models.CheckConstraint(condition=unset_or(factor__gte=1), name="retry_override_factor"),
            models.CheckConstraint(condition=unset_or(max_delay__gt=0), name="retry_override_max_delay"),
            models.CheckConstraint(condition=unset_or(jitter__gte=0, jitter__lte=1), name="retry_override_jitter"),
            models.CheckConstraint(
                condition=Q(base_delay__isnull=True) | Q(max_delay__isnull=True) | Q(max_delay__gte=F("base_delay")),
                name="retry_override_delays_in_order",
            ),
        ]

    def __str__(self) -> str:
        return self.task_path

    def numbers(self) -> dict[str, Any]:
        fields = ("max_attempts", "base_delay", "factor", "max_delay", "jitter")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}
