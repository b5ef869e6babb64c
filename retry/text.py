"""Text any database column takes: what PostgreSQL refuses (NUL in text and JSON; a lone surrogate, which no
UTF-8 encoder takes) found in values given to the layer, and cleaned from text from outside.

SQLite stores both. Task arguments and return values are refused when they hold either (`problem`); error
messages, tracebacks and what a remote answered are cleaned instead (`storable`), so both databases keep the
same thing.
"""

import re

#: Characters of an error message kept.
MESSAGE_LIMIT = 2000
#: Characters of a traceback kept.
TRACEBACK_LIMIT = 20000
#: What stands in for each character no database can store.
REPLACEMENT = "\ufffd"

# Every surrogate in a Python str is a lone one: a valid pair is decoded into one code point.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def problem(text: str) -> str | None:
    """What makes ``text`` unstorable, said as the end of a sentence ("... contains a NUL character ..."); None."""
    if "\x00" in text:
        return "contains a NUL character (\\x00), which PostgreSQL refuses"
    if not text.isascii() and _UNSTORABLE.search(text):
        return "contains a lone surrogate, which is not Unicode text"
    return None


def storable(value: str, limit: int) -> str:
    """Return value with NUL and lone surrogates replaced, cut to at most limit characters.

    A cut keeps the beginning and the end (where a traceback names the error) and says how much went.
    """
    value = _UNSTORABLE.sub(REPLACEMENT, value)
    if len(value) <= limit:
        return value
    keep = max(limit - len(_marker(len(value))), 0)  # the marker of the longest cut is the longest
    head, tail = keep - keep // 2, keep // 2
    return (value[:head] + _marker(len(value) - keep) + value[len(value) - tail :])[:limit]


def _marker(cut: int) -> str:
    return f" […{cut:,} characters cut…] "
