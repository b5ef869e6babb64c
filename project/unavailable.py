"""A database the web process cannot reach in time: 503 with Retry-After, and one log line, instead of a 500.

A request waits at most the pool's timeout (5 s) for a connection; a busy process (every connection of its pool in
use), a restarting PostgreSQL or a refused connection then raise django.db.OperationalError in the view. A
connection lost during a COMMIT leaves its outcome unknown, so the answer does not say that nothing was saved: an
order POST sent again with its Idempotency-Key places the order at most once either way.
"""

import logging
import sqlite3
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger("project")

#: Seconds the client is asked to wait before it sends the request again.
RETRY_AFTER = 5
#: PostgreSQL's SQLSTATEs of a server that is going away or full of connections (class 08, connection exceptions,
#: counts too). A statement timeout, a lock not available or a full disk stay errors: they are not "try again".
UNAVAILABLE_STATES = {"57P01", "57P02", "57P03", "53300"}
MESSAGE = "The service is busy or its database cannot be reached. Try again in a few seconds."


class DatabaseUnavailableMiddleware:
    """Turns a view's error that says the database cannot be reached into 503: JSON for the API, a page for the rest."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)  # under ASGI, the coroutine of the next layer: Django awaits it

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not unavailable(exception):
            return None
        first_line = next(iter(str(exception).strip().splitlines()), "") or exception.__class__.__name__
        logger.warning(
            "Database unavailable; answered 503: %s", first_line, extra={"path": request.path, "method": request.method}
        )
        response: HttpResponse
        if request.path.startswith("/api/"):
            response = JsonResponse({"error": MESSAGE}, status=503)
        else:
            response = HttpResponse(MESSAGE, content_type="text/plain; charset=utf-8", status=503)
        response["Retry-After"] = str(RETRY_AFTER)
        # The line above names the cause; django.request would add an ERROR line of its own for the 5xx.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response


def unavailable(error: Exception) -> bool:
    """Whether ``error`` says the database cannot be reached now, rather than that the request went wrong."""
    if not isinstance(error, OperationalError):
        return False
    cause = error.__cause__  # the driver's error, which Django wraps
    if isinstance(cause, sqlite3.OperationalError):
        return "locked" in str(cause)
    state = getattr(cause, "sqlstate", None)
    if state is not None:
        return state.startswith("08") or state in UNAVAILABLE_STATES
    # psycopg's errors without a SQLSTATE: a connection refused or lost, the pool's timeout.
    return type(cause).__module__.split(".")[0] in {"psycopg", "psycopg_pool"}
