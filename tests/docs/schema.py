"""A JSON Schema (2020-12) validator for the keywords docs/openapi.json uses, and no others.

A keyword outside that subset raises, so the document cannot use one that this check would ignore.
"""

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

Schema = dict[str, Any]
ANNOTATIONS = {"description", "title", "examples"}
TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}


def _is_date_time(value: str) -> bool:
    try:
        return datetime.fromisoformat(value).tzinfo is not None and "T" in value
    except ValueError:
        return False


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": _is_date_time,
    "email": _is_email,
    "uri": lambda value: bool(urlsplit(value).scheme and urlsplit(value).netloc),
}


def errors(value: Any, schema: Schema, document: Schema, where: str = "$") -> list[str]:
    """What is wrong with ``value`` under ``schema``, each naming its place; [] when it is valid."""
    unknown = set(schema) - set(CHECKS) - ANNOTATIONS
    if unknown:
        raise ValueError(f"{where}: the schema uses {sorted(unknown)}, which this validator does not check")
    found: list[str] = []
    for keyword, check in CHECKS.items():
        if keyword in schema:
            found += check(value, schema[keyword], schema, document, where)
    return found


def _ref(value: Any, target: Any, schema: Schema, document: Schema, where: str) -> list[str]:
    node: Any = document
    for part in target.removeprefix("#/").split("/"):
        node = node[part]
    return errors(value, node, document, where)


def _type(value: Any, kinds: Any, schema: Schema, document: Schema, where: str) -> list[str]:
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return [] if any(TYPES[kind](value) for kind in kinds) else [f"{where}: {value!r} is not of type {kinds}"]


def _enum(value: Any, options: Any, schema: Schema, document: Schema, where: str) -> list[str]:
    return [] if value in options else [f"{where}: {value!r} is not one of {options}"]


def _properties(value: Any, properties: Any, schema: Schema, document: Schema, where: str) -> list[str]:
    if not isinstance(value, dict):
        return []
    return [
        problem
        for name, sub in properties.items()
        if name in value
        for problem in errors(value[name], sub, document, f"{where}.{name}")
    ]


def _required(value: Any, names: Any, schema: Schema, document: Schema, where: str) -> list[str]:
    return [f"{where}: {name!r} is missing" for name in names if isinstance(value, dict) and name not in value]


def _additional(value: Any, allowed: Any, schema: Schema, document: Schema, where: str) -> list[str]:
    if not isinstance(value, dict):
        return []
    others = {name: item for name, item in value.items() if name not in schema.get("properties", {})}
    if allowed is False:
        return [f"{where}: {name!r} is not allowed" for name in others]
    if allowed is True:
        return []
    return [problem for name, item in others.items() for problem in errors(item, allowed, document, f"{where}.{name}")]


def _items(value: Any, sub: Any, schema: Schema, document: Schema, where: str) -> list[str]:
    if not isinstance(value, list):
        return []
    return [problem for index, item in enumerate(value) for problem in errors(item, sub, document, f"{where}[{index}]")]


def _one_of(value: Any, options: Any, schema: Schema, document: Schema, where: str) -> list[str]:
    matching = sum(not errors(value, option, document, where) for option in options)
    return [] if matching == 1 else [f"{where}: {value!r} matches {matching} of the oneOf schemas, not 1"]


def _min_length(value: Any, limit: Any, schema: Schema, document: Schema, where: str) -> list[str]:
    return [f"{where}: shorter than {limit}"] if isinstance(value, str) and len(value) < limit else []


def _max_length(value: Any, limit: Any, schema: Schema, document: Schema, where: str) -> list[str]:
    return [f"{where}: longer than {limit}"] if isinstance(value, str) and len(value) > limit else []


def _pattern(value: Any, pattern: Any, schema: Schema, document: Schema, where: str) -> list[str]:
    matches = not isinstance(value, str) or re.search(pattern, value)
    return [] if matches else [f"{where}: {value!r} does not match {pattern}"]


def _minimum(value: Any, limit: Any, schema: Schema, document: Schema, where: str) -> list[str]:
    return [f"{where}: {value!r} is under {limit}"] if TYPES["number"](value) and value < limit else []


def _format(value: Any, name: Any, schema: Schema, document: Schema, where: str) -> list[str]:
    return [f"{where}: {value!r} is not a {name}"] if isinstance(value, str) and not FORMATS[name](value) else []


CHECKS: dict[str, Callable[[Any, Any, Schema, Schema, str], list[str]]] = {
    "$ref": _ref,
    "type": _type,
    "enum": _enum,
    "properties": _properties,
    "required": _required,
    "additionalProperties": _additional,
    "items": _items,
    "oneOf": _one_of,
    "minLength": _min_length,
    "maxLength": _max_length,
    "pattern": _pattern,
    "minimum": _minimum,
    "format": _format,
}
