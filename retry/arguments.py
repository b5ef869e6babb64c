"""Task arguments: plain JSON that SQLite and PostgreSQL store alike, and not too large.

Everything is checked before anything is written, so a refusal leaves the caller's transaction usable.
"""

import json
import math
from typing import Any

from retry import conf, text
from retry.exceptions import InvalidTaskArguments

#: Levels of lists and dicts an argument may nest: deeper values cannot be read back by a worker.
MAX_DEPTH = 100
#: From here on a float is a whole number written with an exponent, which PostgreSQL's jsonb keeps as a
#: number without a fraction: it would reach the task as an int on PostgreSQL and as a float on SQLite.
INTEGRAL_FLOATS = 1e16


def check(args: Any, kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
    """Return the arguments as JSON lists and dicts, or raise InvalidTaskArguments naming the bad one."""
    named = [(f"argument {index}", value) for index, value in enumerate(args)]
    for name, value in kwargs.items():
        problem = text.problem(name) if isinstance(name, str) else "is not a string"
        if problem:
            raise InvalidTaskArguments(f"The keyword argument {name!r} {problem}.")
        named.append((f"argument {name!r}", value))
    sizes = []
    for where, value in named:
        _check_value(value, where)
        sizes.append(len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()))
    _check_size(named, sizes)
    return list(args), dict(kwargs)


def _check_size(named: list[tuple[str, Any]], sizes: list[int]) -> None:
    limit = conf.get().MAX_ARGUMENTS_BYTES
    total = sum(sizes) + len(named)
    if total > limit:
        largest = max(range(len(sizes)), key=sizes.__getitem__)
        raise InvalidTaskArguments(
            f"Task arguments take {total} bytes as JSON; the limit is {limit}; "
            f"{named[largest][0]} alone takes {sizes[largest]} bytes (pass ids instead)."
        )


def _check_value(value: Any, where: str) -> None:
    """Walk ``value`` without recursion, so any depth gets an answer instead of a RecursionError."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            if len(path) >= MAX_DEPTH:
                raise InvalidTaskArguments(f"{where} nests deeper than {MAX_DEPTH} levels.")
            for key, item in value.items():
                _check_key(key, where, path)
                stack.append((item, (*path, key)))
        elif isinstance(value, list | tuple):
            if len(path) >= MAX_DEPTH:
                raise InvalidTaskArguments(f"{where} nests deeper than {MAX_DEPTH} levels.")
            stack.extend((item, (*path, index)) for index, item in enumerate(value))
        else:
            problem = _scalar_problem(value, _at(where, path))
            if problem:
                raise InvalidTaskArguments(problem)


def _check_key(key: Any, where: str, path: tuple[Any, ...]) -> None:
    if not isinstance(key, str):
        raise InvalidTaskArguments(f"{_at(where, path)} has the key {key!r}; JSON keys must be strings.")
    problem = text.problem(key)
    if problem:
        raise InvalidTaskArguments(f"{_at(where, path)} has a key that {problem}: {key!r}.")


def _scalar_problem(value: Any, at: str) -> str | None:
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"{at} is {value!r}, which JSON cannot hold."
        if abs(value) >= INTEGRAL_FLOATS:
            return f"{at} is {value!r}, a float PostgreSQL reads back as an integer: pass an int or a string."
        return None
    if isinstance(value, str):
        problem = text.problem(value)
        return f"{at} {problem}." if problem else None
    # Django's Tasks API raises a TypeError with "Unsupported type" (django.utils.json.normalize_json).
    return f"Unsupported type in {at}: a {type(value).__name__} is not JSON; pass plain values such as primary keys."


def _at(where: str, path: tuple[Any, ...]) -> str:
    return where + "".join(f"[{key!r}]" for key in path)
