"""Every source of a retry policy keeps its rules: the @task options, the RETRY_* settings, the admin's
overrides (form and database constraints); and an override for no existing task is flagged."""

import re
from collections.abc import Iterator

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from retry import checks, registry
from retry.api import task
from retry.exceptions import PolicyMisconfigured
from retry.models import PolicyOverride
from retry.task import RetryOptions

pytestmark = [pytest.mark.services]


def pick_up(key: str) -> None:
    """A task body for the decorator tests."""


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"max_attempts": 0}, "max_attempts must be a whole number of at least 1, not 0"),
        ({"jitter": -1}, "jitter must be a fraction from 0 to 1, not -1"),
        ({"base_delay": 0}, "base_delay must be at least 10 s (the retry floor), not 0"),
        ({"max_delay": 1}, "max_delay must be at least the base delay (10 s), not 1"),
    ],
)
def test_the_task_decorator_refuses_a_broken_policy(settings: Settings, options: RetryOptions, said: str) -> None:
    settings.RETRY_MIN_DELAY = 10
    settings.RETRY_BASE_DELAY = 10
    settings.RETRY_MAX_DELAY = 3600
    with pytest.raises(PolicyMisconfigured, match="^" + re.escape(f"tests.retry.test_policy_sources.pick_up: {said}.")):
        task(**options)(pick_up)


def test_a_lower_floor_set_on_purpose_allows_shorter_delays(settings: Settings) -> None:
    settings.RETRY_MIN_DELAY = 0.01
    assert task(base_delay=0.05, max_delay=0.5)(pick_up).base_delay == 0.05


@pytest.mark.parametrize(
    ("names", "said"),
    [
        ({"RETRY_BASE_DELAY": 1}, "RETRY_BASE_DELAY must be at least 10 s (the retry floor), not 1"),
        ({"RETRY_JITTER": -1}, "RETRY_JITTER must be a fraction from 0 to 1, not -1"),
        ({"RETRY_BACKOFF_FACTOR": 0.5}, "RETRY_BACKOFF_FACTOR must be a number of at least 1, not 0.5"),
        ({"RETRY_MIN_DELAY": 0}, "RETRY_MIN_DELAY must be positive, not 0"),
    ],
)
def test_settings_that_break_the_policy_fail_the_system_check(
    settings: Settings, names: dict[str, object], said: str
) -> None:
    settings.RETRY_MIN_DELAY = 10
    settings.RETRY_BASE_DELAY = 10
    settings.RETRY_MAX_DELAY = 3600
    for name, value in names.items():
        setattr(settings, name, value)
    [error] = checks.check_settings()
    assert error.id == "retry.E001" and said in error.msg


@pytest.fixture
def floor_of_ten(settings: Settings) -> Iterator[None]:
    settings.RETRY_MIN_DELAY = 10
    settings.RETRY_BASE_DELAY = 10
    settings.RETRY_MAX_DELAY = 3600
    registry.forget_overrides()
    yield
    registry.forget_overrides()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"base_delay": "0"}, "must be at least 10 s (the retry floor), not 0"),
        ({"base_delay": "-5"}, "must be at least 10 s (the retry floor), not -5"),
        ({"max_attempts": "0"}, "must be a whole number of at least 1, not 0"),
        ({"jitter": "-1"}, "must be a fraction from 0 to 1, not -1"),
        ({"max_delay": "5"}, "must be at least the base delay (10 s), not 5"),
    ],
)
def test_the_override_form_refuses_a_broken_policy(
    admin_client: Client, floor_of_ten: None, fields: dict[str, str], said: str
) -> None:
    response = admin_client.post(
        reverse("admin:retry_policyoverride_add"), {"task_path": "tests.tasks.record", "note": "", **fields}
    )
    assert response.status_code == 200 and said in response.content.decode()
    assert not PolicyOverride.objects.exists()


@pytest.mark.django_db
def test_the_override_form_refuses_a_task_that_does_not_exist(admin_client: Client, floor_of_ten: None) -> None:
    response = admin_client.post(
        reverse("admin:retry_policyoverride_add"), {"task_path": "tests.tasks.recrod", "max_attempts": "3"}
    )
    assert response.status_code == 200 and "tests.tasks.recrod cannot be imported" in response.content.decode()
    assert not PolicyOverride.objects.exists()


@pytest.mark.django_db
def test_an_override_for_no_existing_task_is_flagged_in_the_list(admin_client: Client, floor_of_ten: None) -> None:
    PolicyOverride.objects.create(task_path="tests.tasks.record", max_attempts=3)
    PolicyOverride.objects.create(task_path="orders.tasks.gone_since", max_attempts=3)
    page = admin_client.get(reverse("admin:retry_policyoverride_changelist")).content.decode()
    assert page.count('alt="True"') == 1 and page.count('alt="False"') == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [{"base_delay": 0}, {"base_delay": -5}, {"max_attempts": 0}, {"jitter": -1}, {"factor": 0.5}, {"max_delay": 0}],
)
def test_the_database_refuses_an_override_row_that_cannot_work(fields: dict[str, object]) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        PolicyOverride.objects.create(task_path="tests.tasks.record", **fields)


@pytest.mark.django_db
def test_an_override_row_under_the_floor_is_not_applied(floor_of_ten: None, caplog: pytest.LogCaptureFixture) -> None:
    PolicyOverride.objects.create(task_path="tests.tasks.record", base_delay=1, max_attempts=3)
    assert registry.policy_for(registry.load("tests.tasks.record")).base_delay == 10
    assert "Retry policy override ignored" in caplog.text
