"""A database the web process cannot reach: daphne on the production settings answers 503 with Retry-After."""

import json
import sqlite3
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import psycopg_pool
import pytest
from django.db import OperationalError
from django.test import RequestFactory

from project.unavailable import MESSAGE, DatabaseUnavailableMiddleware
from tests import processes
from tests.factories import ORDER_FIELDS
from tests.project.conftest import clean_env

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def unreachable(tmp_path: Path) -> Iterator[tuple[int, processes.Process]]:
    """daphne as the Procfile starts it, its DATABASE_URL on a loopback port where nothing listens."""
    port, nobody = processes.free_port(), processes.free_port()
    env = clean_env(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{nobody}/scoopboard",
            "SECRET_KEY": "unavailable-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "PYTHONUNBUFFERED": "1",
        }
    )
    daphne = str(Path(sys.executable).with_name("daphne"))
    argv = [daphne, "--bind", "127.0.0.1", "--port", str(port), "project.asgi:application"]
    server = processes.Process("daphne", argv, env, tmp_path).start()
    try:
        processes.wait_until_listening(port, timeout=30)
        yield port, server
    finally:
        server.stop()


def refused(request: urllib.request.Request) -> tuple[int, str | None, bytes]:
    """The status, Retry-After and body of an answer that is an HTTP error."""
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=60)
    with answer.value as error:
        return error.code, error.headers["Retry-After"], error.read()


def test_an_order_while_the_database_cannot_be_reached_gets_503_with_retry_after(
    unreachable: tuple[int, processes.Process],
) -> None:
    port, server = unreachable
    order = {name: str(value) for name, value in ORDER_FIELDS.items()}
    headers = {"Content-Type": "application/json"}
    url = f"http://127.0.0.1:{port}/api/orders"
    status, retry_after, body = refused(urllib.request.Request(url, json.dumps(order).encode(), headers, method="POST"))
    assert (status, retry_after, json.loads(body)) == (503, "5", {"error": MESSAGE})
    status, retry_after, body = refused(urllib.request.Request(f"http://127.0.0.1:{port}/orders/1/"))
    assert (status, retry_after, body.decode()) == (503, "5", MESSAGE)
    log = server.log()
    assert "Traceback" not in log and "Service Unavailable" not in log
    assert log.count("Database unavailable; answered 503") == 2


@pytest.mark.parametrize(
    ("cause", "status"),
    [
        (psycopg_pool.PoolTimeout("couldn't get a connection after 5.00 sec"), 503),
        (psycopg.OperationalError("connection failed: Connection refused"), 503),
        (psycopg.errors.AdminShutdown("terminating connection due to administrator command"), 503),
        (psycopg.errors.TooManyConnections("sorry, too many clients already"), 503),
        (psycopg.errors.ConnectionFailure("server closed the connection"), 503),
        (sqlite3.OperationalError("database is locked"), 503),
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), None),
        (psycopg.errors.LockNotAvailable("could not obtain lock on row"), None),
        (psycopg.errors.DiskFull("could not extend file"), None),
        (sqlite3.OperationalError("no such table: orders_order"), None),
    ],
)
def test_only_a_database_that_cannot_be_reached_is_a_503(cause: Exception, status: int | None) -> None:
    # A statement timeout or a missing table is a fault to see, not a "try again in 5 s".
    error = OperationalError(str(cause))
    error.__cause__ = cause
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    answer = middleware.process_exception(RequestFactory().get("/api/orders/1"), error)
    assert (answer.status_code if answer is not None else None) == status
