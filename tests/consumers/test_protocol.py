"""Parsing client frames: pure, no database."""

import json

import pytest

from consumers import protocol
from retry.monitoring import frames


def frame(**content: object) -> str:
    return json.dumps({"version": 1, **content})


@pytest.mark.parametrize(
    ("text", "action"),
    [
        (frame(type="snapshot"), protocol.Action("snapshot")),
        (frame(type="claim", step_id=7, ref="a1"), protocol.Action("claim", ref="a1", step_id=7)),
        (frame(type="finish", step_id=7), protocol.Action("finish", step_id=7)),
        (frame(type="deliver", order_id=3), protocol.Action("deliver", order_id=3)),
        (frame(type="next", step_id="ignored"), protocol.Action("next")),
    ],
)
def test_valid_frames_become_actions(text: str, action: protocol.Action) -> None:
    assert protocol.parse(text) == action


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (None, "binary"),
        ("x" * (protocol.MAX_FRAME + 1), "too_large"),
        ("é" * (protocol.MAX_FRAME // 2 + 1), "too_large"),  # the limit counts bytes, not characters
        ("", "bad_json"),
        ("null", "bad_json"),
        ("NaN", "bad_json"),
        (frame(type=None), "unknown_type"),
        (frame(type="websocket.connect"), "unknown_type"),
        (frame(type="claim", version=1.5, step_id=1), "bad_version"),
        (frame(type="claim", step_id=0), "bad_field"),
        (frame(type="claim", step_id=2**63), "bad_field"),
        (frame(type="claim", step_id=1.0), "bad_field"),
        (frame(type="snapshot", ref=12), "bad_field"),
        (frame(type="snapshot", ref="r" * (protocol.MAX_REF + 1)), "bad_field"),
    ],
)
def test_bad_frames_raise_a_named_error(text: str | None, code: str) -> None:
    with pytest.raises(frames.FrameError) as raised:
        protocol.parse(text)
    assert raised.value.code == code
    assert raised.value.message


def test_a_board_can_narrow_the_allowed_types() -> None:
    with pytest.raises(frames.FrameError, match="Unknown message type 'claim'"):
        protocol.parse(frame(type="claim", step_id=1), protocol.PICKUP_ACTIONS)


def test_every_server_message_carries_type_and_version() -> None:
    action = protocol.Action("claim", ref="r", step_id=1)
    assert protocol.ok(action, "done") == {
        "type": "ok",
        "version": 1,
        "action": "claim",
        "ref": "r",
        "message": "done",
    }
    assert protocol.error("bad_json", "no")["version"] == 1
