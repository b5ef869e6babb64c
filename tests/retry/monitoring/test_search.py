"""The one filter of the search page, the feed's actions and `manage.py tasks`: each part, on SQLite and PostgreSQL."""

from datetime import datetime, timedelta

import pytest
from django.http import QueryDict
from django.tasks.base import TaskResultStatus as Status
from django.utils import timezone
from pytest_django import Settings

from retry.monitoring import search
from tests.retry.rows import NOW, attempt, task

pytestmark = [pytest.mark.services, pytest.mark.django_db]


def matching(**data: str | list[str]) -> set[str]:
    return {str(pk) for pk in search.read(data).tasks().values_list("pk", flat=True)}


@pytest.fixture
def rows() -> dict[str, str]:
    """Tasks that differ in one part each, by name."""
    made = {
        "plain": task(kwargs={"order_id": 7}),
        "email": task("emails", kwargs={"order_id": "7", "to": "ann@example.com"}),
        "other_order": task(kwargs={"order_id": 8}),
        "nested": task(kwargs={"customer": {"id": 3, "tags": ["vip"]}, "contains": 1}),
        "positional": task(args=["cake", 2], task_path="orders.tasks.send_ready_email"),
        "dead": task(status=Status.FAILED, finished=30, error_class="builtins.TimeoutError", error_message="Gateway"),
        "old": task(enqueued=7200, kwargs={"flag": True}),
        "nulled": task(kwargs={"note": None}),
    }
    attempt(made["plain"], 1, started=50, seconds=1, outcome="RETRIED", error_message="Connection refused by oven")
    return {str(record.pk): name for name, record in made.items()}


def names(rows: dict[str, str], found: set[str]) -> set[str]:
    return {rows[pk] for pk in found}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, {"plain", "email", "other_order", "nested", "positional", "dead", "old", "nulled"}),
        ({"queue": ["emails"]}, {"email"}),
        ({"queue": "emails"}, {"email"}),  # one value, as a feed frame may send it
        ({"status": ["failed"]}, {"dead"}),  # any case
        ({"status": ["READY", "FAILED"], "queue": ["emails"]}, {"email"}),  # every part must hold
        ({"task": "send_ready_email"}, {"positional"}),  # the name alone
        ({"task": "orders.tasks.send_ready_email"}, {"positional"}),  # or the whole path
        ({"task": "ready_email"}, set()),  # never a piece of a name
        ({"arg": ["kwargs.order_id=7"]}, {"plain", "email"}),  # unquoted: the number and its text
        ({"arg": ['kwargs.order_id="7"']}, {"email"}),  # quoted: the text only
        ({"arg": ["order_id=8"]}, {"other_order"}),  # kwargs by default
        ({"arg": ["kwargs.customer.id=3"]}, {"nested"}),  # nested keys
        ({"arg": ['kwargs.customer.tags=["vip"]']}, {"nested"}),  # JSON values
        ({"arg": ["kwargs.contains=1"]}, {"nested"}),  # a key named like a lookup is a key
        ({"arg": ["kwargs.customer.exact=3"]}, set()),
        ({"arg": ["kwargs.customer__id=3"]}, set()),
        ({"arg": ["args.0=cake", "args.1=2"]}, {"positional"}),
        ({"arg": ["kwargs.to=ann@example.com"]}, {"email"}),  # not JSON: text
        ({"arg": ["kwargs.flag=true"]}, {"old"}),
        ({"arg": ["kwargs.note=null"]}, {"nulled"}),
        ({"arg": ["kwargs.order_id=7", "queue=x"]}, set()),  # each match must hold; "queue" is a keyword here
        ({"error": "timeout"}, {"dead"}),  # the error's class, any case
        ({"error": "gateway"}, {"dead"}),  # its message
        ({"error": "refused by OVEN"}, {"plain"}),  # an attempt's error
        ({"error": "100%"}, set()),  # LIKE's wildcards are text
    ],
)
def test_each_part_of_a_filter(rows: dict[str, str], data: dict[str, str | list[str]], expected: set[str]) -> None:
    assert names(rows, matching(**data)) == expected


def test_time_ranges_on_enqueue_or_finish(rows: dict[str, str]) -> None:
    hour_ago = (NOW - timedelta(hours=1)).isoformat()
    assert names(rows, matching(until=hour_ago)) == {"old"}
    assert "old" not in names(rows, matching(since=hour_ago))
    finished = matching(since=(NOW - timedelta(seconds=40)).isoformat(), time="finished")
    assert names(rows, finished) == {"dead"}


def test_times_read_iso_dates_and_relative_ages(settings: Settings) -> None:
    settings.TIME_ZONE = "Europe/Paris"
    timezone.activate("Europe/Paris")
    try:
        parsed = search.read({"since": "2026-12-01", "until": "2026-12-01T08:30"})
    finally:
        timezone.deactivate()
    assert parsed.since == datetime.fromisoformat("2026-12-01T00:00:00+01:00")
    assert parsed.until == datetime.fromisoformat("2026-12-01T08:30:00+01:00")
    recent = search.read({"since": "2h"}).since
    assert recent is not None and abs(timezone.now() - timedelta(hours=2) - recent) < timedelta(minutes=1)


def test_a_page_query_reads_the_same_as_a_dict(rows: dict[str, str]) -> None:
    query = QueryDict("queue=default&queue=emails&arg=kwargs.order_id%3D7&status=READY")
    assert search.read(query).tasks().count() == 2


def test_a_filter_goes_to_json_and_back_and_says_itself_in_one_line() -> None:
    data = {"queue": ["emails"], "status": ["FAILED"], "task": "send", "arg": ["kwargs.order_id=7"], "error": "x"}
    data |= {"since": "2026-12-01T00:00:00+00:00", "until": "2026-12-02T00:00:00+00:00", "time": "finished"}
    parsed = search.read(data)
    assert parsed.as_dict() == data
    assert search.read(parsed.as_dict()) == parsed
    assert parsed.describe() == (
        "queue=emails status=FAILED task=send kwargs.order_id=7 error~'x' "
        "finished>=2026-12-01T00:00:00+00:00 finished<2026-12-02T00:00:00+00:00"
    )
    assert search.read({}).describe() == "every task"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            {"queue": ["nothere"]},
            "queue: nothere is not a queue; this project's are default, emails, webhooks, maintenance.",
        ),
        ({"status": ["DONE"]}, "status: DONE is not a status; they are READY, RUNNING, FAILED, SUCCESSFUL."),
        ({"arg": ["order_id"]}, "arg: 'order_id' is not key=value, such as kwargs.order_id=7 or args.0=7."),
        ({"arg": ["kwargs.a b=1"]}, "arg: 'kwargs.a b=1' is not key=value, such as kwargs.order_id=7 or args.0=7."),
        (
            {"arg": ["kwargs.x'; DROP=1"]},
            """arg: "kwargs.x'; DROP=1" is not key=value, such as kwargs.order_id=7 or args.0=7.""",
        ),
        ({"arg": ["args.first=1"]}, "arg: 'args.first=1': after args comes a position, such as args.0=7."),
        ({"arg": [{"x": 1}]}, "arg: Each argument match is text, such as kwargs.order_id=7."),
        (
            {"since": "yesterday"},
            "since: 'yesterday' is not a time: write 2026-12-01, 2026-12-01T08:30, 30m, 2h or 7d.",
        ),
        (
            {"until": "2026-02-30"},
            "until: '2026-02-30' is not a time: write 2026-12-01, 2026-12-01T08:30, 30m, 2h or 7d.",
        ),
        ({"since": "1h", "until": "2h"}, "since must come before until."),
        ({"time": "started"}, "time: Select a valid choice. started is not one of the available choices."),
        ({"error": "x" * 201}, "error: Ensure this value has at most 200 characters (it has 201)."),
        ({"since": "999999d"}, "since: '999999d' goes back more than 3650 days; give a date instead."),
        ({"until": "999999h"}, "until: '999999h' goes back more than 3650 days; give a date instead."),
        (
            {"since": "0001-01-01T00:00+05:00"},
            "since: '0001-01-01T00:00+05:00' is not a time: write 2026-12-01, 2026-12-01T08:30, 30m, 2h or 7d.",
        ),
        (
            {"until": "9999-12-31T23:59-05:00"},
            "until: '9999-12-31T23:59-05:00' is not a time: write 2026-12-01, 2026-12-01T08:30, 30m, 2h or 7d.",
        ),
        ({"arg": 5}, "arg: Each argument match is text, such as kwargs.order_id=7."),
        ({"arg": ["x=NaN"]}, "arg: 'x=NaN': the value holds 'NaN', which JSON cannot hold."),
        ({"arg": ["x=-Infinity"]}, "arg: 'x=-Infinity': the value holds '-Infinity', which JSON cannot hold."),
        ({"arg": ["x=[1e400]"]}, "arg: 'x=[1e400]': the value holds inf, which JSON cannot hold."),
        (
            {"arg": ['x={"\\u0000": 1}']},
            """arg: 'x={"\\\\u0000": 1}': the value contains a NUL character (\\x00), which PostgreSQL refuses.""",
        ),
        (
            {"arg": ["x=a\x00b"]},
            "arg: 'x=a\\x00b' contains a NUL character (\\x00), which PostgreSQL refuses.",
        ),
        ({"arg": ["x=" + "1" * 1000]}, "arg: An argument match has at most 1000 characters, not 1002."),
        ({"arg": ["x=1"] * 21}, "arg: At most 20 argument matches, not 21."),
        ({"task": "a\x00b"}, "task: This value contains a NUL character (\\x00), which PostgreSQL refuses."),
        ({"error": "\ud800"}, "error: This value contains a lone surrogate, which is not Unicode text."),
    ],
)
def test_a_bad_filter_gets_one_line_naming_its_part(data: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError) as raised:
        search.read(data)
    assert str(raised.value) == problem


@pytest.mark.parametrize("value", ['"\\ud83c\\udf70"', '"a\\tb"', "1e300", "[[[[1]]]]", "NaNa", '"NaN"'])
def test_values_the_arguments_can_hold_are_still_matched(value: str) -> None:
    search.read({"arg": [f"x={value}"]}).tasks().count()  # the database takes the comparison
