"""What a task costs: PostgreSQL writes and bytes, statements and Redis commands to enqueue it, to run it and to
purge it; what idle processes cost; and how long the tasks waiting on a Redis that is lost take to run."""

import subprocess
import time
from datetime import timedelta
from typing import Any

from django.utils import timezone

from benchmarks import processes
from benchmarks.units import probes
from harness import servers

#: The tables that grow with every task kept.
TASK_TABLES = ("retry_taskrecord", "retry_taskattempt")
#: Worker processes that run the tasks (each with RETRY_CONCURRENCY slots), beside one dispatcher.
WORKERS = 2


def successful() -> int:
    from retry.models import TaskRecord

    return TaskRecord.objects.filter(status="SUCCESSFUL").count()


def messages_waiting(probe: probes.Probe) -> int:
    """Task messages still in the default queue's channel: those of tasks a worker took from the backlog first."""
    from channels.layers import get_channel_layer

    from retry.messages import channel_for

    key = getattr(get_channel_layer(), "prefix", "") + channel_for("default")
    return sum(int(client.zcard(key)) for client in probe.redis)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout} s")
        time.sleep(0.1)


def enqueue(count: int, *, one_by_one: bool) -> None:
    """``count`` tasks, each in a transaction of its own as an order's request commits it; with ``one_by_one`` each
    message leaves before the next enqueue (a quiet web process), else the outbox sends what piles up together."""
    from benchmarks.units import work
    from retry.outbox import outbox

    for number in range(count):
        work.nothing.enqueue(number)
        if one_by_one:
            outbox.flush(timeout=10)
    outbox.flush(timeout=60)


def start_workers(probe: probes.Probe | None = None) -> list[Any]:
    """A dispatcher and the workers; their CPU time is watched by ``probe``'s snapshots."""
    started = [processes.dispatcher(), *(processes.our_worker(index) for index in range(WORKERS))]
    if probe is not None:
        probe.watched = {"dispatcher": [started[0].pid], "workers": [worker.pid for worker in started[1:]]}
    return started


def measure(count: int, probe: probes.Probe) -> dict[str, Any]:
    """``count`` tasks enqueued with no worker running, then run as a backlog; ``count`` more enqueued while the
    workers run (the steady state), then all of them purged; and a few enqueued one message at a time."""
    start = probe.snapshot()
    enqueue(count, one_by_one=False)
    enqueued = probe.snapshot()
    workers = start_workers(probe)
    try:
        wait_until(lambda: successful() >= count, 600, f"{count} tasks not all run")
        backlog = probe.snapshot()
        enqueuing = time.process_time()
        enqueue(count, one_by_one=False)
        enqueue_cpu = time.process_time() - enqueuing
        wait_until(lambda: successful() >= 2 * count, 600, f"{count} more tasks not all run")
        # A worker that takes a backlog from the database leaves the messages of the tasks it took in the channel; it
        # reads them, each to a claim that finds its task taken, once the backlog is gone. They are the steady
        # state's cost, and would otherwise be counted against the tasks enqueued one at a time below.
        wait_until(lambda: messages_waiting(probe) == 0, 600, "the steady state's messages not all read")
        steady = probe.snapshot()
        single = min(count, 200)  # each waits for its send: slow, and the figure settles within a hundred
        enqueue(single, one_by_one=True)
        wait_until(lambda: successful() >= 2 * count + single, 600, f"{single} tasks not all run")
        one_by_one = probe.snapshot()
    finally:
        processes.stop(workers)
        probe.watched = {}
    ran = probe.snapshot()
    purge_started = time.monotonic()
    purged_rows = purge()
    purge_seconds = time.monotonic() - purge_started
    purged = probe.snapshot()
    return {
        "tasks": count,
        "enqueue": probes.difference(start, enqueued, count),
        "run_backlog": probes.difference(enqueued, backlog, count),
        "steady": probes.difference(backlog, steady, count),
        "enqueue_cpu_ms": round(enqueue_cpu * 1000 / count, 3),
        "steady_one_message_at_a_time": probes.difference(steady, one_by_one, single),
        "purge": {
            **probes.difference(ran, purged, max(1, purged_rows)),
            "rows": purged_rows,
            "seconds": round(purge_seconds, 2),
        },
        "kept_bytes_per_10000": {
            name: round(size * 10_000 / (2 * count + single))
            for name, size in probes.difference(start, ran, 1)["bytes_on_disk"].items()
            if name in TASK_TABLES
        },
    }


def purge() -> int:
    """What the dispatcher's sweep removes once the results' retention has passed."""
    from retry import housekeeping

    later = timezone.now() + timedelta(days=8)
    total = 0
    while True:
        removed, more = housekeeping.purge_finished(later, 500)
        total += removed
        if not more:
            return total


def idle(probe: probes.Probe, seconds: float = 10.0) -> dict[str, Any]:
    """Redis commands and WAL per second of a dispatcher and the workers with nothing to do."""
    workers = start_workers()
    try:
        time.sleep(5)  # past start-up: migrations checked, heartbeats written, channels read
        before = probe.snapshot()
        time.sleep(seconds)
        after = probe.snapshot()
    finally:
        processes.stop(workers)
    per_second = probes.difference(before, after, 1)
    span = after.at - before.at
    return {
        "processes": f"1 dispatcher + {WORKERS} workers",
        "redis_commands_per_second": round(per_second["redis_commands"] / span, 1),
        "wal_bytes_per_second": round(per_second["wal_bytes"] / span),
        "statements_per_second": round(per_second["statements"] / span, 1),
        "redis_by_command_per_second": {
            name: round(calls / span, 1) for name, calls in per_second["redis_by_command"].items()
        },
    }


class LayerRedis:
    """The run's channel layer: a throwaway redis-server that can be killed and started again on its port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server = self.start()

    def start(self) -> subprocess.Popen[bytes]:
        server = processes.redis_server(self.port)
        servers.wait_until_listening(self.port)
        return server

    def kill_and_start(self) -> None:
        """SIGKILL: it keeps nothing on disk, so every message it held is gone; then an empty one comes up."""
        self.server.kill()
        self.server.wait()
        time.sleep(1.0)
        self.server = self.start()

    def stop(self) -> None:
        processes.stop([self.server])


def lost_shard(count: int, layer: LayerRedis) -> dict[str, Any]:
    """A backlog of ``count`` tasks whose wake-up messages wait on Redis while no worker runs; then Redis is kept,
    or killed (losing them) and started again empty, and the workers start: seconds until every task ran."""
    results = {}
    for lose in (False, True):
        clear()
        enqueue(count, one_by_one=False)
        if lose:
            layer.kill_and_start()
        started = time.monotonic()
        workers = start_workers()
        try:
            wait_until(lambda: successful() >= count, 300, "the waiting tasks not all run")
            results["lost" if lose else "kept"] = round(time.monotonic() - started, 2)
        finally:
            processes.stop(workers)
    return {"tasks": count, "seconds_until_all_ran": results, **recovery_counts()}


def clear() -> None:
    """No task rows left, and no dead ones either: autovacuum cleaning up after a DELETE would write the WAL of the
    figures that follow (the idle processes' above all)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE retry_taskattempt, retry_taskrecord CASCADE")


def recovery_counts() -> dict[str, int]:
    """Lost and duplicated among the last run's tasks: each ran once, or the run is wrong."""
    from django.db.models import Count

    from retry.models import TaskRecord

    rows = TaskRecord.objects.filter(task_path__endswith="work.nothing").annotate(runs=Count("attempt_set"))
    return {
        "not_successful": rows.exclude(status="SUCCESSFUL").count(),
        "run_more_than_once": rows.filter(runs__gt=1).count(),
    }
