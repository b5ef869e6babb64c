"""Return values: checked before they are written, so one task's value never fails another task's write.

A value is stored as JSON as Django's Tasks API normalizes it (any sequence becomes a list, UTF-8 bytes become
text), and what JSON cannot hold fails its task with Django's own ``TypeError`` (``Unsupported type: <class
'datetime.datetime'>``). JSON that a database refuses (NaN, infinity, NUL, a lone surrogate, nesting too deep
to encode) or that would not read back the same (a key that is not a string) fails it with an error naming the
place, so SQLite and PostgreSQL agree.
"""

import math
from collections.abc import Mapping, Sequence
from typing import Any

from retry import text

WHERE = "the return value"


def storable(value: Any) -> Any:
    """``value`` as the JSON types it is stored as, or TypeError / ValueError saying why it cannot be."""
    try:
        return _stored(value, WHERE)
    except RecursionError:
        raise ValueError(f"{WHERE} is nested too deeply to be stored") from None


def _stored(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value!r}, which JSON cannot hold")
        return value
    if isinstance(value, str):
        return _text(value, where)
    if isinstance(value, bytes):
        try:
            return _text(value.decode(), where)
        except UnicodeDecodeError:
            raise ValueError(f"Unsupported value: {type(value)} ({where} is not UTF-8)") from None
    if isinstance(value, Mapping):
        return {_key(key, where): _stored(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, Sequence):
        return [_stored(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise TypeError(f"Unsupported type: {type(value)} ({where})")


def _key(key: Any, where: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"{where} has the key {key!r}: JSON keys are strings, and it would not read back the same")
    return _text(key, f"{where} key {key!r}")


def _text(value: str, where: str) -> str:
    problem = text.problem(value)
    if problem:
        raise ValueError(f"{where} {problem}")
    return value
