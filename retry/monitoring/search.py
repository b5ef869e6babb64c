"""Which tasks an operator means: one filter for the search page, the feed's actions and ``manage.py tasks``.

A filter names queues, statuses, a task, values in the arguments, a piece of error text and a time range; every
part given must hold, and a filter of no parts matches every task. ``FilterForm`` reads one from a page's query,
a feed frame, an audit row or the command's options, with the same names and the same errors everywhere;
``TaskFilter.tasks()`` is the queryset.
"""

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.db.models.fields.json import KeyTransform
from django.tasks.base import TaskResultStatus
from django.utils import dateparse, timezone

from retry import clock, conf, text
from retry.models import TaskAttempt, TaskQuerySet, TaskRecord

#: One key of an argument's path: a keyword's name or a list index. Anything else is refused.
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}|[0-9]{1,4}")
#: A time given as "this long ago": minutes, hours or days.
AGO = re.compile(r"(\d{1,6}) ?([mhd])")
SECONDS = {"m": 60, "h": 3600, "d": 86400}
#: The longest "ago": ten years of days.
MAX_AGO_DAYS = 3650
#: Characters of one argument match, and matches in one filter.
MATCH_LIMIT, MATCHES_LIMIT = 1000, 20
#: Which time a range applies to, and its column.
TIMES = {"enqueued": "enqueued_at", "finished": "finished_at"}


@dataclass(frozen=True)
class ArgumentMatch:
    """A value an argument must hold: ``kwargs.order_id=7``, ``args.0="a"``, ``customer.id=3`` (kwargs by default).

    The value is read as JSON; an unquoted one matches its text too (7 or "7"), and one that is not JSON is text.
    """

    text: str
    path: tuple[str, ...]
    value: Any
    loose: bool

    @classmethod
    def parse(cls, text: str) -> "ArgumentMatch":
        key, equals, raw = text.partition("=")
        path = key.strip().split(".")
        if path[0] not in ("args", "kwargs"):
            path = ["kwargs", *path]
        if not equals or len(path) < 2 or not all(KEY.fullmatch(part) for part in path[1:]):
            raise ValidationError(f"{text[:80]!r} is not key=value, such as kwargs.order_id=7 or args.0=7.")
        if path[0] == "args" and not path[1].isdigit():
            raise ValidationError(f"{text[:80]!r}: after args comes a position, such as args.0=7.")
        try:
            value = json.loads(raw, parse_constant=Constant)
        except (ValueError, RecursionError):
            return cls(text, tuple(path), raw, loose=False)
        if said := unstorable(value):
            raise ValidationError(f"{text[:80]!r}: the value {said}.")
        return cls(text, tuple(path), value, loose=not isinstance(value, str | list | dict))

    def matching(self, tasks: TaskQuerySet, name: str) -> TaskQuerySet:
        """``tasks`` whose argument holds the value; ``name`` is free among the queryset's aliases."""
        target: Any = self.path[0]
        for key in self.path[1:]:
            target = KeyTransform(key, target)  # a key, never a lookup: "contains" is a key here
        condition = Q(**{name: self.value})
        if self.loose:
            condition |= Q(**{name: self.text.partition("=")[2].strip()})
        return tasks.alias(**{name: target}).filter(condition)


@dataclass(frozen=True)
class TaskFilter:
    """The parts of a filter; ``until`` is exclusive, ``since`` inclusive, both on the time ``time`` names."""

    queues: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    task: str = ""
    arguments: tuple[ArgumentMatch, ...] = ()
    error: str = ""
    since: datetime | None = None
    until: datetime | None = None
    time: str = "enqueued"

    def tasks(self) -> TaskQuerySet:
        """The tasks the filter matches."""
        found = TaskRecord.objects.all()
        if self.queues:
            found = found.filter(queue__in=self.queues)
        if self.statuses:
            found = found.filter(status__in=self.statuses)
        if self.task:
            found = found.filter(Q(task_path=self.task) | Q(task_path__endswith="." + self.task))
        for number, argument in enumerate(self.arguments):
            found = argument.matching(found, f"argument_{number}")
        if self.error:
            said = Q(error_message__icontains=self.error) | Q(error_class__icontains=self.error)
            attempts = TaskAttempt.objects.filter(said, task=OuterRef("pk"))
            found = found.filter(said | Exists(attempts))
        column = TIMES[self.time]
        if self.since is not None:
            found = found.filter(**{f"{column}__gte": self.since})
        if self.until is not None:
            found = found.filter(**{f"{column}__lt": self.until})
        return found

    def as_dict(self) -> dict[str, Any]:
        """The filter as FilterForm reads it (JSON, times in ISO 8601): for an audit row, a batch task, a link."""
        data = {
            "queue": list(self.queues),
            "status": list(self.statuses),
            "task": self.task,
            "arg": [argument.text for argument in self.arguments],
            "error": self.error,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        found = {name: value for name, value in data.items() if value}
        return {**found, "time": self.time} if self.since or self.until else found

    def describe(self) -> str:
        """The filter in one line, as an operator would type it."""
        parts = [f"queue={','.join(self.queues)}"] if self.queues else []
        parts += [f"status={','.join(self.statuses)}"] if self.statuses else []
        parts += [f"task={self.task}"] if self.task else []
        parts += [argument.text for argument in self.arguments]
        parts += [f"error~{self.error!r}"] if self.error else []
        parts += [f"{self.time}>={self.since.isoformat()}"] if self.since else []
        parts += [f"{self.time}<{self.until.isoformat()}"] if self.until else []
        return " ".join(parts) or "every task"


@dataclass(frozen=True)
class Constant:
    """NaN, Infinity or -Infinity, which Python's JSON reads and no stored argument holds."""

    name: str


def unstorable(value: Any) -> str | None:
    """What no task argument can hold in ``value`` (a JSON value): a non-finite number, unstorable text; None."""
    stack = [value]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend([*value, *value.values()])
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, Constant) or (isinstance(value, float) and not math.isfinite(value)):
            return f"holds {getattr(value, 'name', value)!r}, which JSON cannot hold"
        elif isinstance(value, str) and (said := text.problem(value)):
            return said
    return None


def storable_text(value: str) -> None:
    """The validator of typed text: what PostgreSQL cannot compare is refused."""
    if said := text.problem(value):
        raise ValidationError(f"This value {said}.")


class ListInput(forms.SelectMultiple):
    """Several values of one name (a query's repeated parameter, a list in a dict); drawn by the page itself."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = super().value_from_datadict(data, files, name)
        return [value] if isinstance(value, str) else value


class ArgumentsField(forms.Field):
    widget = ListInput

    def to_python(self, value: Any) -> tuple[ArgumentMatch, ...]:
        if value is not None and not isinstance(value, str | list | tuple):
            raise ValidationError("Each argument match is text, such as kwargs.order_id=7.")
        values = [value] if isinstance(value, str) else list(value or [])
        if not all(isinstance(text, str) for text in values):
            raise ValidationError("Each argument match is text, such as kwargs.order_id=7.")
        if len(values) > MATCHES_LIMIT:
            raise ValidationError(f"At most {MATCHES_LIMIT} argument matches, not {len(values)}.")
        for match in values:
            if len(match) > MATCH_LIMIT:
                raise ValidationError(f"An argument match has at most {MATCH_LIMIT} characters, not {len(match)}.")
            if said := text.problem(match):
                raise ValidationError(f"{match[:80]!r} {said}.")
        return tuple(ArgumentMatch.parse(match) for match in values if match.strip())


class StatusField(forms.MultipleChoiceField):
    """Statuses in any case: ``failed`` is FAILED."""

    def to_python(self, value: Any) -> list[str]:
        return [str(item).upper() for item in super().to_python(value)]


class WhenField(forms.Field):
    """A time: ISO 8601 (a date is its midnight; without an offset, in the current time zone) or 30m, 2h, 7d ago."""

    def to_python(self, value: Any) -> datetime | None:
        text = "" if value is None else str(value).strip()
        if not text:
            return None
        if ago := AGO.fullmatch(text):
            seconds = int(ago[1]) * SECONDS[ago[2]]
            if seconds > MAX_AGO_DAYS * SECONDS["d"]:
                raise ValidationError(f"{text!r} goes back more than {MAX_AGO_DAYS} days; give a date instead.")
            return clock.now() - timedelta(seconds=seconds)
        try:
            moment = dateparse.parse_datetime(text)
            day = None if moment else dateparse.parse_date(text)
            if day is not None:
                moment = datetime(day.year, day.month, day.day)
            if moment is not None:
                moment = timezone.make_aware(moment) if timezone.is_naive(moment) else moment
                moment.astimezone(UTC)  # a time the database can store, in UTC too
        except (ValueError, OverflowError):
            moment = None
        if moment is None:
            raise ValidationError(f"{text[:40]!r} is not a time: write 2026-12-01, 2026-12-01T08:30, 30m, 2h or 7d.")
        return moment


class FilterForm(forms.Form):
    queue = forms.MultipleChoiceField(required=False, widget=ListInput)
    status = StatusField(required=False, choices=TaskResultStatus.choices, widget=ListInput)
    task = forms.CharField(required=False, max_length=255, strip=True, validators=[storable_text])
    arg = ArgumentsField(required=False)
    error = forms.CharField(required=False, max_length=200, strip=True, validators=[storable_text])
    since = WhenField(required=False)
    until = WhenField(required=False)
    time = forms.ChoiceField(required=False, choices=[(name, name) for name in TIMES])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queues = conf.queues()
        field = self.fields["queue"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(queue, queue) for queue in queues]
        field.error_messages["invalid_choice"] = f"%(value)s is not a queue; this project's are {', '.join(queues)}."
        status = self.fields["status"].error_messages
        status["invalid_choice"] = f"%(value)s is not a status; they are {', '.join(TaskResultStatus.values)}."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            raise ValidationError("since must come before until.")
        return data

    def task_filter(self) -> TaskFilter:
        """The filter of a valid form."""
        data = self.cleaned_data
        return TaskFilter(
            queues=tuple(data["queue"]),
            statuses=tuple(data["status"]),
            task=data["task"],
            arguments=data["arg"],
            error=data["error"],
            since=data["since"],
            until=data["until"],
            time=data["time"] or "enqueued",
        )

    def problem(self) -> str:
        """The first error of an invalid form, in one line naming the field."""
        name, errors = next(iter(self.errors.items()))
        return str(errors[0]) if name == "__all__" else f"{name}: {errors[0]}"


def read(data: Any) -> TaskFilter:
    """The filter ``data`` holds (a query, a dict of lists), or ValueError with the form's first problem (and only
    ValueError, whatever a remote sends)."""
    form = FilterForm(data if hasattr(data, "getlist") or isinstance(data, dict) else {})
    try:
        valid = form.is_valid()
    except (TypeError, OverflowError, RecursionError) as error:  # a field's reading missed; still one line
        raise ValueError(f"the filter cannot be read: {type(error).__name__}") from None
    if not valid:
        raise ValueError(form.problem())
    return form.task_filter()
