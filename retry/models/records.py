"""Task rows and their attempts: the source of truth for every task."""

import uuid
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Q
from django.tasks.base import TaskResultStatus

FINISHED = (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)
#: A task recovered this many times runs alone (see TaskRecord.runs_alone).
RUN_ALONE_AFTER = 2
UNFINISHED = (TaskResultStatus.READY, TaskResultStatus.RUNNING)
#: The rows of every state but the one nearly all rows end in: the status indexes leave the successful ones out.
NOT_SUCCEEDED = Q(status__in=["READY", "RUNNING", "FAILED"])


class TaskQuerySet(models.QuerySet["TaskRecord"]):
    def ready(self) -> "TaskQuerySet":
        return self.filter(status=TaskResultStatus.READY)

    def running(self) -> "TaskQuerySet":
        return self.filter(status=TaskResultStatus.RUNNING)

    def finished(self) -> "TaskQuerySet":
        return self.filter(status__in=FINISHED)

    def failed(self) -> "TaskQuerySet":
        return self.filter(status=TaskResultStatus.FAILED)

    def unsent(self, now: datetime) -> "TaskQuerySet":
        """Ready tasks whose time has come and whose message was never sent (or failed to go)."""
        return self.ready().filter(run_after__lte=now, notified_at__isnull=True)

    def message_expired(self, now: datetime, *, sent_before: datetime) -> "TaskQuerySet":
        """Ready tasks whose message went out before ``sent_before``: the layer may have dropped it."""
        return self.ready().filter(run_after__lte=now, notified_at__lt=sent_before)

    def lease_expired(self, now: datetime) -> "TaskQuerySet":
        return self.running().filter(lease_until__lt=now)

    def past_deadline(self, now: datetime) -> "TaskQuerySet":
        """Ready tasks that were not started by their deadline."""
        return self.ready().filter(expires_at__lt=now)


class TaskRecord(models.Model):
    """One task: what to run, its state, its attempts so far, and the policy it was enqueued under."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task_path = models.CharField("task", max_length=255)
    queue = models.CharField(max_length=64)
    priority = models.SmallIntegerField(default=0)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=TaskResultStatus.choices, default=TaskResultStatus.READY)
    #: Claims so far (the attempt under way included); fences every completion with the worker id.
    attempts = models.PositiveIntegerField(default=0)
    #: Attempts lost beside other tasks (their worker died): not the task's failures, so not charged to its policy.
    recoveries = models.PositiveIntegerField(default=0)
    #: The attempt under way has its worker to itself (see runs_alone): if it is lost, the loss is the task's own.
    alone = models.BooleanField(default=False)
    max_attempts = models.PositiveIntegerField()
    #: The numbers of the retry policy in force when the task was enqueued (see RetryPolicy.snapshot).
    policy = models.JSONField(default=dict)
    time_limit = models.FloatField(help_text="Seconds an attempt may run.")
    ignore_result = models.BooleanField(default=False)
    # NULL, not "": tasks without a key must not collide in the unique constraint.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    enqueued_at = models.DateTimeField()
    #: Not run before this time (the database's clock).
    run_after = models.DateTimeField()
    #: The run_after the task was given (``Task.using``), which Django's ``TaskResult.task`` reports; run_after
    #: itself moves with each retry.
    requested_run_after = models.DateTimeField(null=True, blank=True)
    #: Not started after this time: it fails as expired instead of running late.
    expires_at = models.DateTimeField(null=True, blank=True)
    #: When a message was sent (or is due to be sent by a worker's timer); empty: the dispatcher sends one.
    notified_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    worker_id = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    last_attempted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: When an operator asked the running task to stop (retry.transitions.cancelling); its worker sees it and
    #: ends the attempt as cancelled, and no later step (a failure, a lost lease, a shutdown) retries it.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    return_value = models.JSONField(null=True, blank=True)
    error_class = models.CharField(max_length=255, blank=True)
    error_message = models.TextField(blank=True)
    error_traceback = models.TextField(blank=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        verbose_name = "task"
        # Each index holds only the rows of the states it serves: a task's claim and success change its status, so
        # neither update can be a HOT one, and each writes an entry into every index whose condition its new row
        # meets. Finished rows, nearly all of a table, are kept in two indexes only: the primary key and
        # finished_at (the purge; the dashboard's recent figures). Due READY rows are counted from the backlog
        # index. A test (tests/retry/test_indexes.py) holds the rule, and the dashboard's plans, on PostgreSQL.
        indexes = [
            models.Index(
                fields=["run_after"], name="retry_task_unsent", condition=Q(status="READY", notified_at__isnull=True)
            ),
            models.Index(
                fields=["notified_at"], name="retry_task_sent", condition=Q(status="READY", notified_at__isnull=False)
            ),
            models.Index(
                fields=["expires_at"], name="retry_task_deadline", condition=Q(status="READY", expires_at__isnull=False)
            ),
            # A worker with free slots takes its queues' backlog in this order (transitions.claim_many).
            models.Index(
                fields=["queue", "-priority", "run_after"], name="retry_task_backlog", condition=Q(status="READY")
            ),
            models.Index(fields=["lease_until"], name="retry_task_running", condition=Q(status="RUNNING")),
            models.Index(fields=["finished_at"], name="retry_task_finished_at", condition=Q(finished_at__isnull=False)),
            # The running tasks of a limited task path, a path's dead tasks; the dashboard's counts per queue.
            models.Index(fields=["task_path", "status"], name="retry_task_path_unsucceeded", condition=NOT_SUCCEEDED),
            models.Index(fields=["status", "queue"], name="retry_task_queue_unsucceeded", condition=NOT_SUCCEEDED),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                name="retry_task_unique_key_unfinished",
                # Rows without a key stay out of the index: they cannot collide, and most tasks have none.
                condition=Q(status__in=["READY", "RUNNING"], idempotency_key__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.task_path} {self.id} ({self.status}, attempt {self.attempts}/{self.max_attempts})"

    @property
    def runs_alone(self) -> bool:
        """Lost beside other tasks more than once: it is to run in a worker running nothing else."""
        return self.recoveries >= RUN_ALONE_AFTER

    @property
    def failures(self) -> int:
        """Attempts charged to the task's policy: those it failed, and those lost while it ran alone."""
        return self.attempts - self.recoveries

    @property
    def name(self) -> str:
        return self.task_path.rsplit(".", 1)[-1]

    def log_fields(self) -> dict[str, Any]:
        """What every log line and event says about the task."""
        return {"task_id": str(self.id), "task_name": self.task_path, "queue": self.queue, "attempt": self.attempts}


class Outcome(models.TextChoices):
    # The task function returned.
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    # The task function raised; the policy scheduled another attempt.
    RETRIED = "RETRIED", "Failed, retry scheduled"
    # The task function raised and the task was given up.
    FAILED = "FAILED", "Failed, given up"
    # The worker stopped renewing its lease (died, hung or ran past the time limit).
    LOST = "LOST", "Lost"
    # The worker shut down and handed the task back without charging the attempt.
    RELEASED = "RELEASED", "Handed back"
    # An operator cancelled the task while it ran: it is never retried.
    CANCELLED = "CANCELLED", "Cancelled"


class TaskAttempt(models.Model):
    """One ended run of a task by one worker: the history that answers "why did this run three times?".

    The attempt under way is on the task row itself (worker_id, last_attempted_at).
    """

    # The database removes a task's attempts with it: one DELETE, no rows read first.
    task = models.ForeignKey(TaskRecord, on_delete=models.DB_CASCADE, related_name="attempt_set")
    number = models.PositiveIntegerField()
    worker_id = models.CharField(max_length=100)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error_class = models.CharField(max_length=255, blank=True)
    error_message = models.TextField(blank=True)
    error_traceback = models.TextField(blank=True)
    #: Seconds the policy chose to wait before the next attempt.
    next_delay = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["task", "started_at", "id"]
        indexes = [
            models.Index(fields=["task", "number"], name="retry_attempt_task"),
            models.Index(fields=["finished_at"], name="retry_attempt_finished"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.task_id}: {self.outcome}"

    @property
    def duration(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()
