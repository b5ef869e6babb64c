"""Operators' controls over what runs: queues paused, and limits on how many of a task run or start."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from retry.models.policies import unset_or

#: Starts per period a rate limit may allow: each start is kept on the row until it leaves the period, and every
#: claim under limits reads and writes them (for a higher rate, shorten the period: 1,000 per 0.1 s).
MAX_RATE = 1_000
#: Longest period of a rate limit, in seconds (a day).
MAX_PERIOD = 86_400.0


class QueuePause(models.Model):
    """A paused queue: workers claim none of its tasks and the dispatcher sends none; running tasks finish."""

    queue = models.CharField(max_length=64, unique=True)
    paused_at = models.DateTimeField(auto_now_add=True)
    paused_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "paused queue"

    def __str__(self) -> str:
        return f"{self.queue} (paused by {self.paused_by or 'unknown'})"


class TaskLimit(models.Model):
    """How many tasks of one name may run at once across all workers, and how many may start per period."""

    task_path = models.CharField("task", max_length=255, unique=True)
    concurrency = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Tasks of this name running at once, across all workers; blank: no limit.",
    )
    rate = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RATE)],
        help_text=f"Starts allowed per period, across all workers (at most {MAX_RATE:,}); blank: no limit.",
    )
    period = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.001), MaxValueValidator(MAX_PERIOD)],
        help_text="Seconds the rate is counted over (at most a day).",
    )
    #: The database-clock times (epoch seconds) of the starts still inside the period, oldest first; written by
    #: the claims (retry.transitions.limits).
    recent_starts = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "task limit"
        constraints = [
            models.CheckConstraint(condition=unset_or(concurrency__gte=1), name="retry_limit_concurrency"),
            models.CheckConstraint(condition=unset_or(rate__gte=1, rate__lte=MAX_RATE), name="retry_limit_rate"),
            models.CheckConstraint(condition=Q(period__gt=0, period__lte=MAX_PERIOD), name="retry_limit_period"),
            models.CheckConstraint(
                condition=Q(concurrency__isnull=False) | Q(rate__isnull=False),
                name="retry_limit_something",
                violation_error_message="Set a concurrency limit, a rate limit, or both.",
            ),
        ]

    def __str__(self) -> str:
        return self.task_path

    def describe(self) -> str:
        parts = []
        if self.concurrency is not None:
            parts.append(f"at most {self.concurrency} running")
        if self.rate is not None:
            parts.append(f"at most {self.rate} starts per {self.period:g} s")
        return ", ".join(parts) or "no limit"
