"""Return values: every JSON value is stored and read back as it was; anything else is refused, saying why."""

import math
import re
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retry.models import TaskRecord
from retry.worker import results
from tests import strategies, tasks

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
IN_THE_DATABASE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def row() -> TaskRecord:
    return TaskRecord.objects.get(pk=tasks.record.enqueue("a row to store values in").id)


@IN_THE_DATABASE
@given(value=strategies.json_values)
def test_every_json_value_is_stored_and_read_back_as_it_was_returned(row: TaskRecord, value: Any) -> None:
    stored = results.storable(value)
    TaskRecord.objects.filter(pk=row.pk).update(return_value=stored)
    assert same(TaskRecord.objects.get(pk=row.pk).return_value, value)


def same(read: Any, returned: Any) -> bool:
    """Equal, numbers within float precision: PostgreSQL keeps JSON numbers as decimals, and gives 6.1e16 back as
    the integer 61000000000000000 (see the README's Limits)."""
    if isinstance(returned, float) or isinstance(read, float):
        return isinstance(read, int | float) and math.isclose(read, returned, rel_tol=1e-15)
    if isinstance(returned, list):
        return isinstance(read, list) and len(read) == len(returned) and all(map(same, read, returned))
    if isinstance(returned, dict):
        return (
            isinstance(read, dict) and read.keys() == returned.keys() and all(same(read[k], returned[k]) for k in read)
        )
    return type(read) is type(returned) and read == returned


@given(value=strategies.json_values)
def test_tuples_are_stored_as_lists(value: Any) -> None:
    assert results.storable((value, (value,))) == [value, [value]]


@given(value=strategies.hostile_values())
def test_json_a_database_refuses_is_a_value_error_naming_the_place(value: Any) -> None:
    with pytest.raises(ValueError, match=r"^the return value"):
        results.storable(value)


def named(value: object) -> str:
    """The value's repr without a memory address, the same in every pytest-xdist worker."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))


@pytest.mark.parametrize("value", [v for v in strategies.NOT_JSON if not isinstance(v, bytes)], ids=named)
def test_what_is_not_json_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match=r"Unsupported type|JSON keys are strings"):
        results.storable(value)


def test_utf8_bytes_are_stored_as_text_as_djangos_tasks_api_does() -> None:
    assert results.storable({"cake": b"vanilla"}) == {"cake": "vanilla"}
    with pytest.raises(ValueError, match=r"Unsupported value: <class 'bytes'> \(the return value\['cake'\] is not"):
        results.storable({"cake": b"\xff"})


def test_a_value_nested_past_the_recursion_limit_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        results.storable(strategies.deep(100_000))


@given(value=st.datetimes())
def test_a_datetime_fails_with_the_error_djangos_tasks_api_raises(value: datetime) -> None:
    with pytest.raises(TypeError, match=r"^Unsupported type: <class 'datetime.datetime'>"):
        results.storable({"when": value})
