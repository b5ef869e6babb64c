"""Text from outside, made storable: no NUL, no lone surrogate, at most the limit, and the cut says so."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retry import text

#: Every code point, surrogates and NUL included.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=300)


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("plain", 10, "plain"),  # short and clean: unchanged
        ("a\x00b", 10, "a\ufffdb"),  # PostgreSQL refuses NUL in text and JSON
        ("lone \ud800 and \udfff", 20, "lone \ufffd and \ufffd"),  # no UTF-8 encoder takes these
        ("emoji \U0001f366", 10, "emoji \U0001f366"),  # a real astral character stays
        ("x" * 10, 10, "x" * 10),  # exactly the limit: no cut
        ("ab" * 50, 40, "abababab […84 characters cut…] abababab"),  # both ends kept
        ("x" * 100, 5, " […10"),  # a limit below the marker still holds
    ],
)
def test_storable_replaces_what_no_database_stores_and_cuts_to_the_limit(value: str, limit: int, expected: str) -> None:
    assert text.storable(value, limit) == expected


def test_a_cut_traceback_keeps_the_error_at_its_end() -> None:
    traceback = "Traceback (most recent call last):\n" + "  frame\n" * 10_000 + "RuntimeError: the cause"
    kept = text.storable(traceback, text.TRACEBACK_LIMIT)
    assert len(kept) <= text.TRACEBACK_LIMIT
    assert kept.startswith("Traceback (most recent call last):")
    assert kept.endswith("RuntimeError: the cause")
    assert "characters cut" in kept
    kept.encode("utf-8")


@given(value=ANY_TEXT, limit=st.integers(min_value=0, max_value=400))
def test_whatever_comes_in_goes_out_as_utf8_without_nul_within_the_limit(value: str, limit: int) -> None:
    kept = text.storable(value, limit)
    kept.encode("utf-8")
    assert "\x00" not in kept
    assert len(kept) <= limit
    if len(value) <= limit:
        assert len(kept) == len(value)
