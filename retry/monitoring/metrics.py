"""Prometheus' /metrics: the dashboard's figures, computed from the database at scrape time.

The figures come from the database rather than from counters in each process, so every web process
answers the same and nothing is forgotten on restart. Rates and durations cover stats.WINDOW seconds.
"""

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from retry.models import Outcome
from retry.monitoring import figures, stats


class TaskCollector(Collector):
    """Yields the task figures of one stats.snapshot() per scrape."""

    def collect(self) -> Iterator[Metric]:
        snapshot = stats.snapshot()
        yield from queue_gauges(snapshot.queues)
        yield attempts_by_outcome(snapshot.queues)
        yield durations(snapshot.queues)
        workers = GaugeMetricFamily("retry_workers", "Worker processes by heartbeat state.", labels=["state"])
        task_workers = [w for w in snapshot.workers if w.kind == "worker"]
        workers.add_metric(["live"], sum(1 for w in task_workers if not w.stale))
        workers.add_metric(["stale"], sum(1 for w in task_workers if w.stale))
        yield workers


#: (metric name, help, attribute of figures.QueueFigures); a None figure is left out.
QUEUE_GAUGES = (
    ("retry_queue_ready_tasks", "Tasks due and waiting for a worker (the backlog).", "ready"),
    ("retry_queue_oldest_ready_age_seconds", "Seconds the oldest ready task has been due.", "oldest_ready_age"),
    ("retry_queue_running_tasks", "Tasks running now.", "running"),
    ("retry_queue_waiting_retry_tasks", "Ready tasks that ran before and wait for their retry.", "waiting_retry"),
    ("retry_queue_dead_tasks", "Failed tasks kept as dead letters.", "dead"),
    ("retry_queue_arrived_per_minute", "Tasks enqueued per minute over the window.", "arrived_per_minute"),
    ("retry_queue_succeeded_per_minute", "Tasks succeeded per minute over the window.", "succeeded_per_minute"),
    ("retry_queue_failed_per_minute", "Tasks given up per minute over the window.", "failed_per_minute"),
    ("retry_queue_wait_p50_seconds", "Median seconds from enqueue to first start over the window.", "wait_p50"),
    ("retry_queue_wait_p95_seconds", "95th percentile seconds from enqueue to first start.", "wait_p95"),
    ("retry_queue_backlog_alarm", "1 when the oldest ready task is older than the queue's threshold.", "alarm"),
    ("retry_queue_advised_workers", "Worker processes the queue needs, by Little's law.", "advised_workers"),
    ("retry_queue_paused", "1 while an operator has paused the queue: no worker claims its tasks.", "paused"),
)


def queue_gauges(queues: list[figures.QueueFigures]) -> Iterator[Metric]:
    for name, help_text, attribute in QUEUE_GAUGES:
        gauge = GaugeMetricFamily(name, help_text, labels=["queue", "backend"])
        for queue in queues:
            value = getattr(queue, attribute)
            if value is not None:
                gauge.add_metric([queue.queue, queue.backend], float(value))
        yield gauge


def attempts_by_outcome(queues: list[figures.QueueFigures]) -> Metric:
    gauge = GaugeMetricFamily(
        "retry_task_attempts", "Attempts finished over the window, by outcome.", labels=["queue", "backend", "outcome"]
    )
    for queue in queues:
        for outcome in Outcome.values:
            gauge.add_metric([queue.queue, queue.backend, outcome.lower()], queue.attempts.get(outcome, 0))
    return gauge


def durations(queues: list[figures.QueueFigures]) -> Metric:
    # A gauge histogram: the window slides, so its counts go down as well as up.
    histogram = GaugeHistogramMetricFamily(
        "retry_task_duration_seconds", "Duration of the attempts finished over the window.", labels=["queue", "backend"]
    )
    for queue in queues:
        buckets = [(str(bound), count) for bound, count in queue.durations.buckets]
        buckets.append(("+Inf", queue.durations.count))
        histogram.add_metric([queue.queue, queue.backend], buckets, gsum_value=queue.durations.sum)
    return histogram


registry = CollectorRegistry(auto_describe=False)
registry.register(TaskCollector())


def allowed(request: HttpRequest) -> bool:
    """A staff session, or ``Authorization: Bearer <METRICS_TOKEN>`` when that setting is not empty."""
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    token = getattr(settings, "METRICS_TOKEN", "")
    offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(offered.encode(), token.encode())


def view(request: HttpRequest) -> HttpResponse:
    """The figures in Prometheus' text format; 403 without a staff session or the token."""
    if not allowed(request):
        response = HttpResponse("A staff session or the metrics token is needed.\n", status=403)
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
