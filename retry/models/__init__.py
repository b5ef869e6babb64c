"""The retry layer's tables, one module per stage that owns them."""

from retry.models.periodic import PeriodicRun, Schedule
from retry.models.policies import PolicyOverride, unset_or
from retry.models.processes import Heartbeat
from retry.models.records import (
    FINISHED,
    RUN_ALONE_AFTER,
    UNFINISHED,
    Outcome,
    TaskAttempt,
    TaskQuerySet,
    TaskRecord,
)

__all__ = [
    "FINISHED",
    "RUN_ALONE_AFTER",
    "UNFINISHED",
    "Heartbeat",
    "Outcome",
    "PeriodicRun",
    "PolicyOverride",
    "Schedule",
    "TaskAttempt",
    "TaskQuerySet",
    "TaskRecord",
    "unset_or",
]
