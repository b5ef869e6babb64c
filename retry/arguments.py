"""Task arguments: plain JSON that SQLite and PostgreSQL store alike, and not too large."""

import json
import math
from typing import Any

from retry import conf
from retry.exceptions import InvalidTaskArguments


def check(args: Any, kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
    """Return the arguments as JSON lists and dicts, or raise InvalidTaskArguments naming the bad one."""
    args = list(args)
    for index, value in enumerate(args):
        _check_value(value, f"argument {index}")
    for name, value in kwargs.items():
        _check_value(value, f"argument {name!r}")
    size = len(json.dumps([args, kwargs], separators=(",", ":")).encode())
    limit = conf.get().MAX_ARGUMENTS_BYTES
    if size > limit:
        raise InvalidTaskArguments(
            f"Task arguments take {size} bytes as JSON; the limit is {limit} (pass ids instead)."
        )
    return args, dict(kwargs)


def _check_value(value: Any, where: str) -> None:
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidTaskArguments(f"{where} is {value!r}, which JSON cannot hold.")
        return
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidTaskArguments(f"{where} contains a NUL character (\\x00), which PostgreSQL refuses.")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_value(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidTaskArguments(f"{where} has the key {key!r}; JSON keys must be strings.")
            _check_value(key, f"{where} key {key!r}")
            _check_value(item, f"{where}[{key!r}]")
        return
    raise InvalidTaskArguments(
        f"{where} is a {type(value).__name__}, not JSON: pass plain values such as primary keys instead."
    )
