"""Who is on the other end of a board's websocket, read again from the session store on every action."""

from importlib import import_module
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib import auth

from consumers import protocol


def session_user(session_key: str | None) -> Any:
    """The user the session belongs to now; AnonymousUser once it was logged out, expired or deactivated."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    # auth.get_user reads only request.session, so a namespace holding the store stands in for the request.
    return auth.get_user(SimpleNamespace(session=store))


def refusal(user: Any) -> int | None:
    """The close code that keeps ``user`` off the kitchen board, or None for active kitchen staff."""
    if user is None or not user.is_authenticated or not user.is_active:
        return protocol.NOT_LOGGED_IN
    if not user.is_staff:
        return protocol.NOT_STAFF
    return None
