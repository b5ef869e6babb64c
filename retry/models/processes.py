"""The worker and dispatcher processes, as last seen."""

from django.db import models


class Heartbeat(models.Model):
    """A worker or dispatcher process, as last seen."""

    class Kind(models.TextChoices):
        WORKER = "worker", "Worker"
        DISPATCHER = "dispatcher", "Dispatcher"

    process_id = models.CharField(max_length=100, primary_key=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list)
    concurrency = models.PositiveIntegerField(default=0)
    current_tasks = models.JSONField(default=list)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        verbose_name = "worker"

    def __str__(self) -> str:
        return f"{self.kind} {self.process_id}"
