"""What ``manage.py tasks`` draws: tables that line up, and the progress of a long action."""

from collections.abc import Sequence
from typing import Any

#: Width of the progress bar on a terminal, in characters.
BAR = 30
#: Without a terminal, a progress line each time this many percent more are done.
STEP = 10


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """``rows`` under ``headers``, each column as wide as its widest cell; numbers to the right."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [max([len(header), *(len(row[n]) for row in cells)]) for n, header in enumerate(headers)]
    numeric = [bool(rows) and all(isinstance(row[n], int) for row in rows) for n in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        padded = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * width for width in widths]), *(line(row) for row in cells)])


class Progress:
    """The progress of an action on ``total`` tasks, written to ``stream``: a bar redrawn in place on a terminal,
    else a plain line every STEP percent (logs and CI have no terminal)."""

    def __init__(self, stream: Any, label: str, total: int) -> None:
        self.stream, self.label, self.total = stream, label, total
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.step = -1

    def update(self, done: int, changed: int) -> None:
        percent = 100 if not self.total else min(100, done * 100 // self.total)
        figures = f"{done:,}/{self.total:,} ({percent}%), {changed:,} changed"
        if self.tty:
            filled = BAR * percent // 100
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (BAR - filled)}] {figures}", ending="")
            self.stream.flush()
        elif percent // STEP > self.step:
            self.step = percent // STEP
            self.stream.write(f"{self.label}: {figures}")

    def close(self) -> None:
        if self.tty:
            self.stream.write("")
