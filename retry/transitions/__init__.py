"""The task state machine: the only code that writes a task's status, attempts or lease. It sends no task
message (its callers do, through retry.messages); the events it records go out on commit through retry.events.

Each transition is one conditional UPDATE on the state it expects; 0 rows updated means another
process won (a duplicate message, a late finisher, a second dispatcher), and the caller moves on.
The modules follow who makes the change: the worker's attempts, the dispatcher, an operator, and the
cancelling of a running task that an operator asks for and its worker ends.
"""

from retry.transitions.attempts import (
    begin_alone,
    claim,
    claim_many,
    fail,
    release,
    renew_leases,
    succeed,
    succeed_many,
)
from retry.transitions.cancelling import cancel_requested, request_cancel, stop_cancelled
from retry.transitions.dispatching import expire_overdue, forget_sent, purge, recover_lost, take_due
from retry.transitions.operator import cancel, remove_finished, requeue_failed, retry_now

__all__ = [
    "begin_alone",
    "cancel",
    "cancel_requested",
    "claim",
    "claim_many",
    "expire_overdue",
    "fail",
    "forget_sent",
    "purge",
    "recover_lost",
    "release",
    "remove_finished",
    "renew_leases",
    "request_cancel",
    "requeue_failed",
    "retry_now",
    "stop_cancelled",
    "succeed",
    "succeed_many",
    "take_due",
]
