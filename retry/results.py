"""Return values: checked before they are written, so one task's value never fails another task's write.

A value is stored as JSON, the way Django's Tasks API says: what is not JSON fails its task with the
``TypeError`` Django's docs show (``Object of type datetime is not JSON serializable``). JSON that one
database refuses (NaN, infinity, NUL, lone surrogates) fails it with a ``ValueError`` naming the place, so
SQLite and PostgreSQL behave alike.
"""

import json
import math
from typing import Any

from django.utils.json import normalize_json

WHERE = "the return value"


def storable(value: Any) -> Any:
    """``value`` as JSON types (tuples as lists, as Django's Tasks API does), or why it cannot be stored."""
    try:
        normalized = normalize_json(value)
    except RecursionError:
        raise ValueError(f"{WHERE} is nested too deeply to be stored") from None
    except (TypeError, ValueError) as error:
        json.dumps(value)  # raises Python's own TypeError, naming the type, as Django's docs show
        raise TypeError(f"{WHERE} is not JSON serializable: {error}") from None
    _check(normalized, WHERE)
    return normalized


def _check(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value!r}, which JSON cannot hold")
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, f"{where} key {key!r}")
            _check(item, f"{where}[{key!r}]")


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise ValueError(f"{where} contains a NUL character (\\x00), which PostgreSQL cannot store")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError(f"{where} contains a lone surrogate, which is not UTF-8") from None
