"""The websockets' message format, version 1: what a client may send, what it gets back, how it is closed.

Every message is a JSON object with a "type" and "version": 1. Board clients send actions; the server sends a
"snapshot", then numbered "order" and "order.removed" events, and an "ok" or "error" reply to each action.
"""

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

# The boards' frames follow the task feed's rules: the version, the longest frame and "ref", the close codes (a
# frame too large, no valid session, not allowed, flooding: daphne lets an application close only with 1000 or
# 3000-4999, so they are 4000 plus the HTTP status that says the same), and one close code of their own.
from retry.monitoring.frames import FLOODING as FLOODING
from retry.monitoring.frames import MAX_FRAME as MAX_FRAME
from retry.monitoring.frames import MAX_REF as MAX_REF
from retry.monitoring.frames import NOT_ALLOWED as NOT_ALLOWED
from retry.monitoring.frames import NOT_LOGGED_IN as NOT_LOGGED_IN
from retry.monitoring.frames import TOO_LARGE as TOO_LARGE
from retry.monitoring.frames import VERSION, FrameError, check_version, decode, read_ref
from retry.monitoring.frames import message as message

#: The client stayed more than BOARD_SEND_BUFFER bytes behind for BOARD_SLOW_GRACE seconds (HTTP 408).
TOO_SLOW = 4408


@dataclass(frozen=True)
class Action:
    """A parsed client message: its type, the id it acts on (if any) and the client's reference."""

    type: str
    ref: str | None = None
    step_id: int | None = None
    order_id: int | None = None


#: Each action type and the id field it needs (None: no id).
ACTIONS: dict[str, str | None] = {
    "snapshot": None,
    "claim": "step_id",
    "release": "step_id",
    "finish": "step_id",
    "deliver": "order_id",
    "cancel": "order_id",
    "next": None,
}
#: The only message the public pickup screen takes.
PICKUP_ACTIONS: dict[str, str | None] = {"snapshot": None}


#: Encoded "order" events kept by change and card; a card lives for one read, shared by every board of the process.
#: A resync of a board behind may send each of its cards: a board of up to this many cards is encoded once.
ENCODED_MEMORY = 4096
#: Each recent (change, card) and what follows "seq" in its frame: (the card, the text).
_encoded: OrderedDict[tuple[str, int], tuple[dict[str, Any], str]] = OrderedDict()


def order_event(seq: int, change: str, card: dict[str, Any]) -> str:
    """The frame of an "order" event, as json.dumps(message("order", seq=seq, change=change, order=card)) has it.

    The card, the same object for every board of the process that shows this read, is encoded once; only the
    connection's own seq differs from board to board. Cards must not change once read.
    """
    key = (change, id(card))
    known = _encoded.get(key)
    if known is None or known[0] is not card:
        known = (card, json.dumps({"change": change, "order": card})[1:])
        _encoded[key] = known
        while len(_encoded) > ENCODED_MEMORY:
            _encoded.popitem(last=False)
    return f'{{"type": "order", "version": {VERSION}, "seq": {seq}, {known[1]}'


def parse(text: str | None, actions: dict[str, str | None] = ACTIONS) -> Action:
    """Read one client frame as one of ``actions`` (type → the id field it needs), or raise FrameError."""
    content = decode(text)
    kind = content.get("type")
    if not isinstance(kind, str) or kind not in actions:
        raise FrameError("unknown_type", f"Unknown message type {str(kind)[:40]!r}.")
    check_version(content)
    field = actions[kind]
    ids = {field: read_id(content, field)} if field else {}
    return Action(type=kind, ref=read_ref(content), **ids)


def read_id(content: dict[str, Any], field: str) -> int:
    value = content.get(field)
    # bool is an int in Python, but true is no id.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise FrameError("bad_field", f'"{field}" must be a positive whole number.')
    return value


def ok(action: Action, text: str) -> dict[str, Any]:
    return message("ok", action=action.type, ref=action.ref, message=text)


def error(code: str, text: str, action: Action | None = None) -> dict[str, Any]:
    return message(
        "error", code=code, message=text, action=action.type if action else None, ref=action.ref if action else None
    )
