"""Who may watch tasks and who may act on them, the same on every page and on the feed.

Read-only access is the task model's view permission, operator access its change permission; both are for
active staff only. A read-only user sees every page and figure, without action buttons, and every action they
send anyway is refused (403 over HTTP, a "forbidden" error on the feed).
"""

from typing import Any

VIEW = "retry.view_taskrecord"
OPERATE = "retry.change_taskrecord"


def can_view(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and (user.has_perm(VIEW) or user.has_perm(OPERATE)))


def can_operate(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(OPERATE))


def same_origin(scope: Any) -> bool:
    """Whether a socket's handshake came from a page of the site itself: its Origin names the Host it asked."""
    headers = dict(scope.get("headers") or [])
    origin, host = headers.get(b"origin", b"").decode("latin-1"), headers.get(b"host", b"").decode("latin-1")
    return bool(host) and origin.partition("://")[2] == host
