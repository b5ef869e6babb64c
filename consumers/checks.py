"""Django system checks of the live boards' settings (BOARD_*, declared in project/settings.py): a bad value
stops `check`, the workers and the web process before they serve, naming the setting."""

from typing import Any

from django.conf import settings
from django.core import checks

#: The tag of these checks; project.asgi runs them before daphne serves (daphne runs no checks itself).
TAG = "boards"
#: The smallest BOARD_SEND_BUFFER: below a few frames, every push would wait for the client.
MIN_SEND_BUFFER = 4096


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def positive_seconds(name: str) -> str | None:
    """Why the setting ``name`` is not a positive number of seconds, or None when it is."""
    value = getattr(settings, name)
    if not is_number(value) or not value > 0:
        return f"{name} must be a positive number of seconds, not {value!r}."
    return None


def rate_limit() -> str | None:
    value = settings.BOARD_RATE_LIMIT
    if isinstance(value, tuple | list) and len(value) == 2:
        burst, rate = value
        if isinstance(burst, int) and not isinstance(burst, bool) and burst >= 1 and is_number(rate) and rate > 0:
            return None
    return (
        "BOARD_RATE_LIMIT must be (burst, rate): a whole number of messages of at least 1, then a positive "
        f"number of messages per second, not {value!r}."
    )


def send_buffer() -> str | None:
    value = settings.BOARD_SEND_BUFFER
    if not isinstance(value, int) or isinstance(value, bool) or value < MIN_SEND_BUFFER:
        return f"BOARD_SEND_BUFFER must be a whole number of bytes of at least {MIN_SEND_BUFFER}, not {value!r}."
    return None


#: Each board setting, the check id its problems carry, and what finds them.
RULES = (
    ("BOARD_RATE_LIMIT", "consumers.E001", rate_limit),
    ("BOARD_SEND_BUFFER", "consumers.E002", send_buffer),
    ("BOARD_SLOW_GRACE", "consumers.E003", lambda: positive_seconds("BOARD_SLOW_GRACE")),
    ("BOARD_RESYNC_INTERVAL", "consumers.E004", lambda: positive_seconds("BOARD_RESYNC_INTERVAL")),
)


@checks.register(TAG)
def check_board_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every BOARD_* setting is set, with the type and range the boards need."""
    errors: list[checks.CheckMessage] = []
    for name, check_id, problem_of in RULES:
        problem = problem_of() if hasattr(settings, name) else f"{name} is not set: declare it in the settings."
        if problem is not None:
            errors.append(checks.Error(problem, id=check_id))
    return errors
