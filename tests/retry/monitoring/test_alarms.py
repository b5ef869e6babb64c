"""The backlog alarm: one warning per queue and interval while its oldest ready task waits past the threshold."""

import logging

import pytest
from pytest_django import Settings

from retry.dispatcher import Dispatcher
from retry.monitoring import alarms
from tests.retry.rows import NOW, ago, task

pytestmark = [pytest.mark.services, pytest.mark.django_db]


def test_the_alarm_logs_once_per_interval(
    emails_backlog: None, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.RETRY_BACKLOG_ALARM = {"emails": 20}
    settings.RETRY_BACKLOG_ALARM_INTERVAL = 300
    clock = [1000.0]
    alarm = alarms.BacklogAlarm(monotonic=lambda: clock[0])
    caplog.set_level(logging.WARNING, logger="retry.monitoring.alarms")
    assert alarm.check(NOW) == ["emails"]
    clock[0] += 299
    assert alarm.check(NOW) == []
    clock[0] += 1
    assert alarm.check(NOW) == ["emails"]
    warnings = [r for r in caplog.records if r.name == "retry.monitoring.alarms"]
    assert len(warnings) == 2
    assert (vars(warnings[0])["queue"], vars(warnings[0])["ready"], vars(warnings[0])["threshold"]) == ("emails", 3, 20)
    assert vars(warnings[0])["oldest_age"] == pytest.approx(30, abs=0.01)


def test_the_alarm_is_quiet_without_thresholds_or_under_them(
    emails_backlog: None, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    alarm = alarms.BacklogAlarm()
    assert alarm.check(NOW) == []  # no RETRY_BACKLOG_ALARM
    settings.RETRY_BACKLOG_ALARM = {"emails": 31}
    assert alarm.check(NOW) == []
    assert not [r for r in caplog.records if r.name == "retry.monitoring.alarms"]


@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_pass_checks_the_backlog(
    transactional_db: None, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.RETRY_BACKLOG_ALARM = {"*": 1}
    alarms.backlog_alarm.warned_at.clear()
    # NOW lies in the past: the dispatcher judges by the real clock, so this task has been due for months.
    task("maintenance", enqueued=3600, notified_at=ago(0))
    caplog.set_level(logging.WARNING, logger="retry.monitoring.alarms")
    Dispatcher().tick()
    assert [vars(r)["queue"] for r in caplog.records if r.name == "retry.monitoring.alarms"] == ["maintenance"]
    alarms.backlog_alarm.warned_at.clear()
