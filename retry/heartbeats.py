"""Worker and dispatcher processes report here that they are alive and what they are doing."""

import os
import socket
import time
from datetime import timedelta
from typing import Any

from retry import clock, conf
from retry.models import Heartbeat

WORKER = Heartbeat.Kind.WORKER
DISPATCHER = Heartbeat.Kind.DISPATCHER
_started = time.monotonic()


def beat(process_id: str, kind: str, queues: list[str], concurrency: int, current_tasks: list[str]) -> None:
    """Record that the process is alive, by the database's clock."""
    now = clock.now_plus(0)
    Heartbeat.objects.update_or_create(
        process_id=process_id,
        defaults={
            "kind": kind,
            "queues": queues,
            "concurrency": concurrency,
            "current_tasks": current_tasks,
            "last_seen": now,
        },
        create_defaults={
            "kind": kind,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "queues": queues,
            "concurrency": concurrency,
            "current_tasks": current_tasks,
            "started_at": clock.now() - timedelta(seconds=time.monotonic() - _started),
            "last_seen": now,
        },
    )


def forget(process_id: str) -> None:
    Heartbeat.objects.filter(process_id=process_id).delete()


def dispatcher_status() -> dict[str, Any] | None:
    """When a dispatcher last made a pass, and whether that is too long ago; None if none ever did."""
    last = Heartbeat.objects.filter(kind=DISPATCHER).order_by("-last_seen").values_list("last_seen", flat=True).first()
    if last is None:
        return None
    age = (clock.now() - last).total_seconds()
    return {"last_pass": last.isoformat(), "age_seconds": round(age, 1), "stale": age > conf.get().WORKER_STALE_AFTER}
