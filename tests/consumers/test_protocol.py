"""Client frames parsed and server frames encoded: pure, no database."""

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


CARD = {"id": 4, "number": 4, "label": "#004", "message": 'é "quoted" \\ \n', "steps": [{"id": 9, "status": "todo"}]}


@pytest.mark.parametrize("change", ["step_claimed", "resync", "task.retrying"])
def test_an_order_event_reads_as_the_message_encoded_whole(change: str) -> None:
    text = protocol.order_event(12, change, CARD)
    assert text == json.dumps(protocol.message("order", seq=12, change=change, order=CARD))


def test_a_card_is_encoded_once_for_every_board_that_shows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded: list[object] = []
    dumps = json.dumps

    def counting(value: object, **options: object) -> str:
        encoded.append(value)
        return dumps(value, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(json, "dumps", counting)  # consumers.protocol calls json.dumps
    card = {**CARD}  # a card of a read of its own, as a new read gives
    frames_of_boards = [protocol.order_event(seq, "step_claimed", card) for seq in range(1, 1001)]
    assert len(encoded) == 1
    assert len({frame.split(", ", 3)[3] for frame in frames_of_boards}) == 1  # only "seq" differs
    newer = {**card, "label": "#004 (2)"}  # a later read: a card of its own
    assert json.loads(protocol.order_event(7, "step_claimed", newer))["order"] == newer
    assert len(encoded) == 2
