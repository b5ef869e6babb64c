"""A database the web process cannot reach in time: 503 with Retry-After, and one log line, instead of a 500.

A request waits at most the pool's timeout (5 s) for a connection; a busy process (every connection of its pool in
use), a restarting PostgreSQL or a refused connection then raise django.db.OperationalError in the view. A
connection lost during a COMMIT leaves its outcome unknown, so the answer does not say that nothing was saved: an
order POST sent again with its Idempotency-Key places the order at most once either way.
"""

import logging
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger("project")

#: Seconds the client is asked to wait before it sends the request again.
RETRY_AFTER = 5
MESSAGE = "The service is busy or its database cannot be reached. Try again in a few seconds."


class DatabaseUnavailableMiddleware:
    """Turns a view's OperationalError into 503: JSON for the API, a short page for the rest."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)  # under ASGI, the coroutine of the next layer: Django awaits it

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError):
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
