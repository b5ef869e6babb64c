"""The backlog alarm: a warning when a queue's oldest ready task has waited longer than its threshold."""

import logging
import time
from collections.abc import Callable
from datetime import datetime

from retry import clock, conf
from retry.monitoring import stats

logger = logging.getLogger("retry.monitoring.alarms")


class BacklogAlarm:
    """Warns about each late queue at most once per RETRY_BACKLOG_ALARM_INTERVAL, in this process."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self.warned_at: dict[str, float] = {}

    def check(self, now: datetime | None = None) -> list[str]:
        """Warn about the queues over their threshold that were not warned about lately; return those queues."""
        if not conf.get().BACKLOG_ALARM:
            return []
        late = self.late_queues(now or clock.db_now())
        warned = []
        for queue, (ready, age, threshold) in late.items():
            if self.monotonic() - self.warned_at.get(queue, float("-inf")) >= conf.get().BACKLOG_ALARM_INTERVAL:
                fields = {"queue": queue, "ready": ready, "oldest_age": round(age, 3), "threshold": threshold}
                logger.warning("Backlog alarm: queue %s is %.0f s behind; add workers", queue, age, extra=fields)
                self.warned_at[queue] = self.monotonic()
                warned.append(queue)
        for queue in set(self.warned_at) - set(late):
            del self.warned_at[queue]  # back under its threshold: warn at once next time
        return warned

    def late_queues(self, now: datetime) -> dict[str, tuple[int, float, float]]:
        """Queues whose oldest ready task is older than their threshold: (ready, age, threshold)."""
        late = {}
        for queue, (ready, age) in stats.backlog(now).items():
            threshold = stats.threshold_for(queue)
            if threshold is not None and age is not None and age > threshold:
                late[queue] = (ready, age, threshold)
        return late


backlog_alarm = BacklogAlarm()


def check(now: datetime | None = None) -> list[str]:
    """The dispatcher's call, once per pass."""
    return backlog_alarm.check(now)
