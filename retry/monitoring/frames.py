"""The task feed's messages, version 1: the requests a client may send, the replies, the close codes.

Every message is a JSON object with a "type" and "version": 1, and a request may carry a "ref" its reply repeats.
The client sends {"type": "refresh"} for fresh figures, and an operator {"type": "act", "action": "retry_now",
"filter": {"queue": ["emails"], "status": ["FAILED"]}} to start a batch action on everything the filter matches
(the search page's names, retry.monitoring.search). The server sends "dashboard.figures", "batch.started" (the
audit row's id, the action and the count) and "error" for a frame it cannot take or a request it refuses.
"""

import json
from dataclasses import dataclass
from typing import Any

VERSION = 1
#: Longest text frame the feed reads, in bytes; anything longer closes the socket with TOO_LARGE.
MAX_FRAME = 4096
#: Longest "ref" a client may attach to a request to recognise its reply.
MAX_REF = 64
#: The requests: fresh figures now; an operator's action on everything a filter matches.
REFRESH = "refresh"
ACT = "act"

# Close codes: daphne lets an application close only with 1000 or 3000-4999, so these are 4000 plus the HTTP
# status that says the same.
#: A frame is longer than MAX_FRAME.
TOO_LARGE = 4413
#: No valid session: never logged in, logged out elsewhere, or the account was deactivated.
NOT_LOGGED_IN = 4401
#: Logged in, but not allowed to watch tasks.
NOT_ALLOWED = 4403
#: The client went on sending long after being told to slow down.
FLOODING = 4429


class FrameError(Exception):
    """A client frame that is not a request of the feed; ``code`` names the problem for the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Request:
    """A valid client request, with the reference the client attached to recognise its reply."""

    ref: str | None = None
    kind: str = REFRESH
    #: What an "act" request asks: the action, and the filter as the search page names its parts.
    action: str = ""
    filter: dict[str, Any] | None = None


def read(text: str | None) -> Request:
    """Read one client frame as a request, or raise FrameError saying why it is not one."""
    content = decode(text)
    kind = content.get("type")
    if kind not in (REFRESH, ACT):
        raise FrameError("unknown_type", f"Unknown message type {str(kind)[:40]!r}.")
    check_version(content)
    ref = read_ref(content)
    if kind == REFRESH:
        return Request(ref)
    action, task_filter = content.get("action"), content.get("filter", {})
    if not isinstance(action, str) or not isinstance(task_filter, dict):
        raise FrameError("bad_field", '"act" takes an "action" (retry_now, cancel or purge) and a "filter" object.')
    return Request(ref, ACT, action, task_filter)


def decode(text: str | None) -> dict[str, Any]:
    """A client frame as the JSON object it must hold, or FrameError (also for the boards' sockets)."""
    if text is None:
        raise FrameError("binary", "Send text frames holding JSON; binary frames are not understood.")
    if len(text.encode()) > MAX_FRAME:
        raise FrameError("too_large", f"A frame may hold at most {MAX_FRAME} bytes.")
    try:
        content = json.loads(text)
    except ValueError:
        raise FrameError("bad_json", "The frame is not valid JSON.") from None
    if not isinstance(content, dict):
        raise FrameError("bad_json", "A message is a JSON object.")
    return content


def check_version(content: dict[str, Any]) -> None:
    if content.get("version") != VERSION:
        raise FrameError("bad_version", f'Send "version": {VERSION}; this server speaks version {VERSION}.')


def read_ref(content: dict[str, Any]) -> str | None:
    """The reference a client attached to recognise its reply, if it is a short string."""
    ref = content.get("ref")
    if ref is not None and (not isinstance(ref, str) or len(ref) > MAX_REF):
        raise FrameError("bad_field", f'"ref" must be a string of at most {MAX_REF} characters.')
    return ref


def message(kind: str, **fields: Any) -> dict[str, Any]:
    """A server message of ``kind``, with the version every message carries."""
    return {"type": kind, "version": VERSION, **fields}


def error(code: str, text: str, request: Request | None = None) -> dict[str, Any]:
    """An error, repeating the ``request`` it answers (if it answers a valid one)."""
    action, ref = (request.kind, request.ref) if request else (None, None)
    return message("error", code=code, message=text, action=action, ref=ref)
