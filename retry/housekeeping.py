"""The retry layer's clean-up, run by the dispatcher on its schedule: finished task rows past their retention
(RETRY_RESULT_RETENTION, RETRY_FAILED_RETENTION) and the heartbeats of processes gone for good."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from retry import conf, transitions
from retry.models import Heartbeat

#: A heartbeat this many times older than RETRY_WORKER_STALE_AFTER belongs to a process that is gone for good;
#: younger stale ones stay on the dashboard a while, struck through.
STALE_HEARTBEAT_FACTOR = 10
#: Purge statements of RETRY_DISPATCH_BATCH rows per status in one sweep at most, so that a large backlog of old
#: rows holds up no dispatcher pass for long: the rest waits for the next sweep.
MAX_BATCHES = 4


@dataclass(frozen=True)
class Sweep:
    """What one sweep removed, and whether old finished rows are left for the next one."""

    purged: int
    stale_heartbeats: int
    more_to_purge: bool


def sweep(now: datetime) -> Sweep:
    """Remove what is past its retention as of ``now`` (the database's clock)."""
    purged, more = purge_finished(now, conf.get().DISPATCH_BATCH)
    return Sweep(purged=purged, stale_heartbeats=remove_stale_heartbeats(now), more_to_purge=more)


def purge_finished(now: datetime, batch: int) -> tuple[int, bool]:
    """Purge finished rows past their retention, batch after batch; returns how many went and whether more is left."""
    total = 0
    for _ in range(MAX_BATCHES):
        removed = transitions.purge(now, batch)
        total += removed
        # Each status gives at most ``batch`` rows a statement: fewer in all means both are done.
        if removed < batch:
            return total, False
    return total, True


def remove_stale_heartbeats(now: datetime) -> int:
    cutoff = now - timedelta(seconds=conf.get().WORKER_STALE_AFTER * STALE_HEARTBEAT_FACTOR)
    return Heartbeat.objects.filter(last_seen__lt=cutoff).delete()[1].get("retry.Heartbeat", 0)
