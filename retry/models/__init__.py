"""The retry layer's tables, one module per stage that owns them."""

from retry.models.audit import AuditEntry
from retry.models.controls import QueuePause, TaskLimit
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
from retry.models.rollups import Rollup, RollupMark

__all__ = [
    "FINISHED",
    "RUN_ALONE_AFTER",
    "UNFINISHED",
    "AuditEntry",
    "Heartbeat",
    "Outcome",
    "PeriodicRun",
    "PolicyOverride",
    "QueuePause",
    "Rollup",
    "RollupMark",
    "Schedule",
    "TaskAttempt",
    "TaskLimit",
    "TaskQuerySet",
    "TaskRecord",
    "unset_or",
]
