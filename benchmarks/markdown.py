"""Markdown tables and the words the report's cells share."""

from typing import Any


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("-" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(met: bool | None) -> str:
    return "not measured" if met is None else "yes" if met else "**no**"


def times(ours: float | None, theirs: float | None) -> str:
    """``ours`` over ``theirs``, as "1.23x"; "-" when either is missing."""
    if not ours or not theirs:
        return "-"
    return f"{ours / theirs:.2f}x"
