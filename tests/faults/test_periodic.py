"""Two dispatchers racing over the same periods enqueue each periodic task once per period."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from pytest_django import Settings

from retry.dispatcher import Dispatcher
from retry.models import TaskRecord

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
SCHEDULES = {
    "every-minute": {"task": "tests.tasks.record", "every": 60, "kwargs": {"key": "every-minute"}},
    "cron-minute": {"task": "tests.tasks.record", "cron": "* * * * *", "kwargs": {"key": "cron-minute"}},
}
PERIODS = 10
# Past the tasks' due time, so the passes enqueue but never send: the test counts rows, not runs.
START = datetime(2020, 3, 1, 12, 0, tzinfo=UTC)


def run_dispatcher(offset: float, start_together: threading.Barrier, errors: list[BaseException]) -> None:
    """Tick three times in each of the periods, ``offset`` seconds into it, in step with the other dispatcher."""
    dispatcher = Dispatcher()
    try:
        for period in range(PERIODS):
            start_together.wait()
            for tick in range(3):
                dispatcher.tick(now=START + timedelta(minutes=period, seconds=offset + tick))
    except BaseException as error:
        errors.append(error)
        start_together.abort()
    finally:
        connections.close_all()


@pytest.mark.timeout(60)
def test_two_dispatchers_over_ten_periods_enqueue_each_schedule_once_per_period(settings: Settings) -> None:
    settings.RETRY_PERIODIC = SCHEDULES
    start_together = threading.Barrier(2, timeout=20)
    errors: list[BaseException] = []
    threads = [threading.Thread(target=run_dispatcher, args=(offset, start_together, errors)) for offset in (0.5, 0.7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(50)

    assert errors == []
    for name in SCHEDULES:
        enqueued = TaskRecord.objects.filter(idempotency_key__startswith=f"periodic:{name}:")
        assert enqueued.count() == PERIODS, name
        assert enqueued.values("idempotency_key").distinct().count() == PERIODS, name
