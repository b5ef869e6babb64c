"""Hypothesis strategies for task arguments and return values: the whole JSON space, and the hostile values
that JSON or PostgreSQL refuse though SQLite stores them."""

from typing import Any

from hypothesis import strategies as st

#: Text PostgreSQL stores: no NUL character and no lone surrogate.
storable_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
#: Every JSON value both databases store, nested a few levels.
json_values = st.recursive(
    json_scalars | storable_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(storable_text, children, max_size=4),
    max_leaves=16,
)

#: Scalars that either json.dumps refuses by the JSON standard (NaN, infinities) or PostgreSQL refuses to store.
HOSTILE_SCALARS = [float("nan"), float("inf"), float("-inf"), "\x00", "cake\x00", "\ud800", "scoop\udfff"]
hostile_scalars = st.sampled_from(HOSTILE_SCALARS)


@st.composite
def hostile_values(draw: st.DrawFn) -> Any:
    """A JSON-shaped value with one hostile scalar somewhere inside it: as a leaf, or as a dictionary key."""
    value: Any = draw(hostile_scalars)
    for container in draw(st.lists(st.sampled_from(["list", "dict", "key"]), max_size=3)):
        if container == "list":
            value = [draw(json_values), value]
        elif container == "dict":
            value = {draw(storable_text): value}
        elif isinstance(value, str):
            value = {value: draw(json_values)}
    return value


#: Values that are not JSON at all.
NOT_JSON = [object(), {1, 2}, b"bytes", 1 + 2j, {1: "an int key"}, {("a", "tuple"): "key"}]
not_json = st.sampled_from(NOT_JSON)


def deep(levels: int) -> list[Any]:
    """A list nested ``levels`` deep: far past Python's recursion limit at 10,000."""
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value
