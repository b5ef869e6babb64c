"""Which retry policy a task runs under: the operator's override, then the decorator's options, then the settings."""

import pytest
from pytest_django import Settings

from retry import registry
from retry.models import PolicyOverride, TaskRecord
from tests import tasks

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_policy_resolution_order_is_override_then_decorator_then_settings(settings: Settings) -> None:
    settings.RETRY_MAX_ATTEMPTS = 9
    settings.RETRY_BASE_DELAY = 11
    settings.RETRY_MAX_DELAY = 60
    assert registry.policy_for(tasks.record).max_attempts == 9  # settings
    assert registry.policy_for(tasks.always_fails).max_attempts == 3  # the decorator beats settings
    PolicyOverride.objects.create(task_path=tasks.always_fails.module_path, max_attempts=4)
    registry.forget_overrides()
    resolved = registry.policy_for(tasks.always_fails)
    assert (resolved.max_attempts, resolved.base_delay) == (4, 11)  # the operator beats both; blanks fall through
    record = TaskRecord.objects.get(pk=tasks.always_fails.enqueue("x").id)
    assert (record.max_attempts, record.policy["max_attempts"]) == (4, 4)  # the row keeps what it was enqueued with
    PolicyOverride.objects.all().delete()
    registry.forget_overrides()
