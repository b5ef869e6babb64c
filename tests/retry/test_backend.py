"""Enqueueing through Django's Tasks API: what is stored, what is refused, what is sent."""

import json
import math
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import hypothesis
import pytest
from django.db import transaction
from django.tasks.base import TaskResultStatus as Status
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from retry import api
from retry.backend import RetryBackend
from retry.exceptions import InvalidTaskArguments
from retry.models import TaskRecord
from retry.outbox import outbox
from tests import processes, strategies, tasks

pytestmark = [pytest.mark.django_db(transaction=True)]


class NotJson:
    pass


@pytest.mark.services
@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((NotJson(),), {}, "Unsupported type in argument 0: a NotJson is not JSON"),  # an object
        ((), {"when": timezone.now()}, "Unsupported type in argument 'when': a datetime"),  # not JSON
        ((math.nan,), {}, "argument 0 is nan"),  # PostgreSQL refuses NaN in JSON
        ((1.5e16,), {}, "a float PostgreSQL reads back as an integer"),  # it would change type there
        ((1.5e16,), {}, "a float PostgreSQL reads back as an integer"),  # it would change type on PostgreSQL
        ((), {"x": math.inf}, "argument 'x' is inf"),  # and infinity
        (("a\x00b",), {}, "NUL character"),  # PostgreSQL refuses \x00 in text
        (({1: "a"},), {}, "has the key 1; JSON keys must be strings"),  # JSON keys are strings
        (([{"deep": {"x": {3}}}],), {}, "Unsupported type in argument 0[0]['deep']['x']: a set"),  # deep inside
        (("x" * 70_000,), {}, "the limit is 65536"),  # too large
    ],
)
def test_non_json_and_oversized_arguments_are_refused_and_nothing_is_written(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidTaskArguments, match=message.replace("[", r"\[").replace("]", r"\]")):
        tasks.record.enqueue(*args, **kwargs)
    assert not TaskRecord.objects.exists()
    assert issubclass(InvalidTaskArguments, InvalidTask)
    assert issubclass(InvalidTaskArguments, TypeError)  # as Django documents for arguments that are not JSON


@pytest.mark.services
def test_enqueue_writes_a_ready_row_with_the_policy_snapshot() -> None:
    result = tasks.on_emails_queue.enqueue("k")
    record = TaskRecord.objects.get(pk=result.id)
    assert (record.status, record.queue, record.priority, record.args, record.kwargs) == (
        Status.READY,
        "emails",
        5,
        ["k"],
        {},
    )
    assert record.policy == {"max_attempts": 5, "base_delay": 0.05, "factor": 2.0, "max_delay": 0.5, "jitter": 0.0}
    assert record.notified_at is not None  # due now: its message goes out after commit
    assert result.status == Status.READY
    assert tasks.on_emails_queue.get_result(result.id).args == ["k"]


@pytest.mark.services
def test_the_row_written_reads_back_as_the_record_enqueue_returns() -> None:
    later = timezone.now() + timedelta(minutes=5)
    backend = tasks.on_emails_queue.get_backend()
    assert isinstance(backend, RetryBackend)
    for task, key in ((tasks.on_emails_queue, None), (tasks.record.using(run_after=later, priority=-3), "k-1")):
        args = ["a", {"b": [1, 2.5, None]}]
        record = backend.enqueue_record(task, args, {"c": True}, idempotency_key=key, max_age=30)
        stored = TaskRecord.objects.get(pk=record.pk)
        assert {f.attname: getattr(stored, f.attname) for f in TaskRecord._meta.concrete_fields} == {
            f.attname: getattr(record, f.attname) for f in TaskRecord._meta.concrete_fields
        }
        assert not record._state.adding


@pytest.mark.services
def test_a_rolled_back_enqueue_leaves_no_task_and_sends_nothing(
    layer_messages: Callable[[str], list[dict[str, object]]],
) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        tasks.record.enqueue("rolled-back")
        raise RuntimeError("the caller's transaction fails")
    assert not TaskRecord.objects.exists()
    assert layer_messages("default") == []


@pytest.mark.services
def test_the_message_goes_out_only_after_commit(layer_messages: Callable[[str], list[dict[str, object]]]) -> None:
    with transaction.atomic():
        result = tasks.record.enqueue("committed")
        outbox.flush()
        assert layer_messages("default") == []
    outbox.flush()
    assert layer_messages("default") == [{"type": "task.run", "id": result.id}]


@pytest.mark.services
def test_an_idempotency_key_returns_the_unfinished_task_instead_of_a_second() -> None:
    first = api.enqueue(tasks.record, "a", idempotency_key="order-42-ready")
    second = api.enqueue(tasks.record, "b", idempotency_key="order-42-ready")
    assert second.id == first.id
    assert TaskRecord.objects.count() == 1
    TaskRecord.objects.filter(pk=first.id).update(status=Status.SUCCESSFUL)
    third = api.enqueue(tasks.record, "c", idempotency_key="order-42-ready")
    assert third.id != first.id  # the key is unique among unfinished tasks only


def test_max_age_sets_the_start_by_deadline() -> None:
    later = timezone.now() + timedelta(minutes=5)
    result = api.enqueue(tasks.record.using(run_after=later), "x", max_age=60)
    record = TaskRecord.objects.get(pk=result.id)
    assert record.expires_at == later + timedelta(seconds=60)
    assert record.notified_at is None  # not due: the dispatcher sends it when it is


def test_get_result_of_an_unknown_id_raises() -> None:
    with pytest.raises(TaskResultDoesNotExist):
        tasks.record.get_result("00000000-0000-0000-0000-000000000000")
    with pytest.raises(TaskResultDoesNotExist):
        tasks.record.get_result("not-an-id")


@pytest.mark.parametrize(
    "layer",
    [
        {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1}},  # ChannelFull
        {  # Redis down: nothing listens on that port
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": f"redis://127.0.0.1:{processes.free_port()}", "socket_connect_timeout": 0.5}]
            },
        },
    ],
)
def test_a_failed_send_never_raises_and_leaves_the_row_for_the_dispatcher(layer: dict[str, object]) -> None:
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        results = [tasks.record.enqueue(f"k{i}") for i in range(3)]
        assert outbox.flush(timeout=10)
    records = TaskRecord.objects.filter(pk__in=[r.id for r in results])
    assert {r.status for r in records} == {Status.READY}
    assert records.filter(notified_at__isnull=True).count() >= 2  # refused: the dispatcher sends these again


def nested(levels: int) -> list[object]:
    value: list[object] = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.services
@pytest.mark.parametrize(
    ("args", "kwargs", "names"),
    [
        ((nested(10_000),), {}, "argument 0 nests deeper than"),  # no RecursionError
        ((), {"deep": {"a": nested(10_000)}}, "argument 'deep' nests deeper than"),
        ((), {"a\x00b": 1}, r"keyword argument 'a\\x00b'"),  # PostgreSQL refuses NUL in JSON keys
        ((), {"a\ud800": 1}, r"keyword argument 'a\\ud800'"),  # and lone surrogates
        (("\udc00",), {}, "argument 0 contains a lone surrogate"),
        (({"k\ud800": 1},), {}, "argument 0 has a key that contains a lone surrogate"),
        ((), lambda: {"small": 1, "blob": "x" * 50_000_000}, "argument 'blob' alone takes 50000002 bytes"),
    ],
)
def test_hostile_arguments_are_refused_by_name_and_the_callers_transaction_goes_on(
    args: tuple[Any, ...], kwargs: dict[str, Any] | Callable[[], dict[str, Any]], names: str
) -> None:
    kwargs = kwargs() if callable(kwargs) else kwargs  # 50 MB made only for its own test
    with transaction.atomic():
        with pytest.raises(InvalidTaskArguments, match=names):
            tasks.record.enqueue(*args, **kwargs)
        assert TaskRecord.objects.count() == 0  # the transaction is still usable
        tasks.record.enqueue("after")
    assert list(TaskRecord.objects.values_list("args", flat=True)) == [["after"]]


class RolledBack(Exception):
    """Ends an example's transaction, so examples leave nothing behind."""


HYPOTHESIS = hypothesis.settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
#: JSON values both databases give back as given (floats from 1e16 on, written with an exponent, are refused).
same_everywhere = strategies.json_values.filter(lambda value: "e+" not in json.dumps(value))


@pytest.mark.services
@HYPOTHESIS
@given(
    args=st.lists(same_everywhere, max_size=3),
    kwargs=st.dictionaries(strategies.storable_text, same_everywhere, max_size=3),
)
def test_every_json_argument_is_stored_and_read_back_alike(args: list[Any], kwargs: dict[str, Any]) -> None:
    with pytest.raises(RolledBack), transaction.atomic():
        result = tasks.record.enqueue(*args, **kwargs)
        stored = TaskRecord.objects.get(pk=result.id)
        assert (stored.args, stored.kwargs) == (args, kwargs) == (result.args, result.kwargs)
        raise RolledBack


@pytest.mark.services
@HYPOTHESIS
@given(value=strategies.hostile_values() | strategies.not_json, as_keyword=st.booleans())
def test_a_hostile_argument_is_refused_by_name_and_the_transaction_goes_on(value: Any, as_keyword: bool) -> None:
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    args, kwargs, name = ((), {"order": value}, "argument 'order'") if as_keyword else ((1, value), {}, "argument 1")
    with pytest.raises(RolledBack), transaction.atomic():
        with pytest.raises(InvalidTaskArguments) as refused:
            tasks.record.enqueue(*args, **kwargs)
        assert name in str(refused.value)
        assert not TaskRecord.objects.exists()  # nothing written, and the transaction still answers
        raise RolledBack


@pytest.mark.services
@HYPOTHESIS
@given(name=strategies.hostile_scalars.filter(lambda scalar: isinstance(scalar, str)))
def test_a_hostile_keyword_name_is_refused_by_name(name: str) -> None:
    with pytest.raises(RolledBack), transaction.atomic():
        with pytest.raises(InvalidTaskArguments, match=re.escape(f"The keyword argument {name!r}")):
            tasks.record.enqueue(**{name: 1})  # type: ignore[arg-type]  # no keyword of record's, on purpose
        assert not TaskRecord.objects.exists()
        raise RolledBack
