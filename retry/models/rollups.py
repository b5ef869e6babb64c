"""The charts' history: each queue's and each task name's figures per minute and per hour, rolled up by the
dispatcher from the attempts (retry.monitoring.history), so that a chart never reads a task row."""

from django.db import models

#: Seconds a minute row and an hour row cover.
MINUTE, HOUR = 60, 3600


class Rollup(models.Model):
    """One queue's or one task name's figures over one minute or one hour.

    Counts are events of the bucket: attempts started in it, and attempts that ended in it by outcome. The
    percentiles are over the attempts that ended in it; an hour's percentile is that of its worst minute. The
    backlog is sampled once a minute; an hour keeps its highest sample.
    """

    class Scope(models.TextChoices):
        # The figures of one queue, every task name in it together.
        QUEUE = "queue", "Queue"
        # The figures of one task name, whichever queue ran it.
        TASK = "task", "Task name"

    scope = models.CharField(max_length=5, choices=Scope.choices)
    #: The queue or the task's path.
    name = models.CharField(max_length=255)
    #: Seconds the bucket covers: MINUTE or HOUR.
    resolution = models.PositiveIntegerField()
    #: The start of the bucket (UTC, a whole minute or hour).
    bucket = models.DateTimeField()
    started = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    #: Attempts that failed and were retried.
    retried = models.PositiveIntegerField(default=0)
    #: Attempts that failed and gave their task up (dead letters).
    failed = models.PositiveIntegerField(default=0)
    #: Attempts whose worker stopped renewing its lease.
    lost = models.PositiveIntegerField(default=0)
    #: Due READY tasks when the backlog was sampled; None: not sampled in this bucket.
    ready = models.PositiveIntegerField(null=True, blank=True)
    #: Seconds the longest-waiting due task had waited when the backlog was sampled.
    oldest_ready_age = models.FloatField(null=True, blank=True)
    #: Seconds from due to first start (first attempts only), 95th percentile.
    wait_p95 = models.FloatField(null=True, blank=True)
    #: Seconds an attempt ran (succeeded, retried or failed), 95th percentile.
    run_p95 = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "resolution", "name", "bucket"], name="retry_rollup_unique")
        ]
        # The dashboard reads every queue over a time range, and the purge removes by age.
        indexes = [models.Index(fields=["resolution", "bucket", "scope"], name="retry_rollup_time")]

    def __str__(self) -> str:
        return f"{self.scope} {self.name} @ {self.bucket:%Y-%m-%d %H:%M} ({self.resolution} s)"


class RollupMark(models.Model):
    """How far the attempts are rolled up: every minute before ``until`` is counted, once.

    A dispatcher moves the mark with a conditional UPDATE before it writes; one that finds the mark moved
    under it writes nothing, so several dispatchers count each minute once.
    """

    name = models.CharField(max_length=32, primary_key=True)
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} until {self.until:%Y-%m-%d %H:%M}"
