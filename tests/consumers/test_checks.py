"""The system checks of the board settings: each bad value is refused naming the setting, and `check` fails."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from pytest_django import Settings

from consumers import checks


def problems() -> list[tuple[str | None, str]]:
    return [(error.id, error.msg) for error in checks.check_board_settings()]


def test_the_project_settings_pass() -> None:
    assert problems() == []


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("BOARD_RATE_LIMIT", 10, "consumers.E001"),  # not a pair
        ("BOARD_RATE_LIMIT", (0, 5.0), "consumers.E001"),  # a burst of nothing refuses every message
        ("BOARD_RATE_LIMIT", (10, 0), "consumers.E001"),  # a bucket that never refills
        ("BOARD_RATE_LIMIT", (2.5, 1.0), "consumers.E001"),  # half a message
        ("BOARD_RATE_LIMIT", (True, 1.0), "consumers.E001"),
        ("BOARD_SEND_BUFFER", 1024, "consumers.E002"),  # below the minimum
        ("BOARD_SEND_BUFFER", "1MB", "consumers.E002"),
        ("BOARD_SLOW_GRACE", 0, "consumers.E003"),
        ("BOARD_SLOW_GRACE", "5", "consumers.E003"),
        ("BOARD_RESYNC_INTERVAL", -1.0, "consumers.E004"),
        ("BOARD_RESYNC_INTERVAL", None, "consumers.E004"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting(settings: Settings, name: str, value: object, check_id: str) -> None:
    setattr(settings, name, value)

    [(found_id, message)] = problems()

    assert found_id == check_id
    assert message.startswith(f"{name} must be")
    assert repr(value) in message


def test_a_missing_setting_is_named(settings: Settings) -> None:
    del settings.BOARD_RESYNC_INTERVAL

    assert problems() == [("consumers.E004", "BOARD_RESYNC_INTERVAL is not set: declare it in the settings.")]


@pytest.mark.parametrize("value", [(1, 0.001), [3, 2], (10, 5.0)])
def test_a_pair_of_burst_and_rate_passes(settings: Settings, value: list[int] | tuple[int, float]) -> None:
    settings.BOARD_RATE_LIMIT = value

    assert problems() == []


def test_check_fails_on_a_bad_board_setting(settings: Settings) -> None:
    settings.BOARD_SLOW_GRACE = 0

    with pytest.raises(SystemCheckError, match=r"\(consumers.E003\) BOARD_SLOW_GRACE must be a positive number"):
        call_command("check", tags=[checks.TAG])
