"""Who is on the other end of a websocket, read again from the session store on every check."""

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest

from consumers import protocol


def session_user(session_key: str | None) -> Any:
    """The user the session belongs to now, permissions loaded; AnonymousUser once it was logged out, expired or
    deactivated."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    # auth.get_user reads only request.session: a bare request holding the store stands in for the client's.
    request = HttpRequest()
    request.session = store
    user = auth.get_user(request)
    if user.is_authenticated and user.is_active:
        user.get_all_permissions()  # cached on the user: has_perm needs no query from here on
    return user


def refusal(user: Any, permissions: tuple[str, ...] = ()) -> int | None:
    """The close code that keeps ``user`` off a socket for active staff holding ``permissions``; None lets them in."""
    if user is None or not user.is_authenticated or not user.is_active:
        return protocol.NOT_LOGGED_IN
    if not user.is_staff or not user.has_perms(permissions):
        return protocol.NOT_ALLOWED
    return None
