"""Errors of the retry layer."""

from django.core.exceptions import ImproperlyConfigured
from django.tasks.exceptions import InvalidTask, TaskException

from retry.policy import GiveUp, Retry

__all__ = [
    "GiveUp",
    "InvalidTaskArguments",
    "LeaseLost",
    "PolicyMisconfigured",
    "Retry",
    "RetryError",
    "TaskCancelled",
    "TaskExpired",
    "TaskNotRegistered",
]


class RetryError(TaskException):
    """Root of the retry layer's errors. Do not raise directly."""


class InvalidTaskArguments(RetryError, InvalidTask, TypeError):
    """Raised at enqueue when an argument is not plain JSON that every database stores alike, or too large.

    A TypeError, as Django's Tasks API documents for arguments that are not JSON.
    """


class TaskNotRegistered(RetryError):
    """Raised when a task row names a function that is not a task in this deploy."""


class LeaseLost(RetryError):
    """Recorded when a worker stopped renewing its claim (it died, hung, or ran past the time limit)."""


class TaskExpired(RetryError):
    """Recorded when a task was not started before its deadline and is given up instead of running late."""


class TaskCancelled(RetryError):
    """Recorded when an operator cancels a task."""


class PolicyMisconfigured(RetryError, ImproperlyConfigured):
    """Raised when a task declares retry options that cannot work."""
