"""The wheel, installed in a fresh virtual environment, runs a project of its own (examples/outside) from a directory
outside this repository: Django's Tasks API enqueues in a transaction, a failure is retried after its backoff, a dead
letter is retried from the admin, and the dashboard is served with its live feed.

On SQLite everything runs in one process (`manage.py serve`); on PostgreSQL and Redis, daphne, `runworker` and
`dispatcher` run as processes of their own, on a database and a key prefix of this test's own."""

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from psycopg import sql

from tests.package.outside import DASHBOARD, FEED, OPERATOR, Site

#: The first run may download the example's dependencies into pip's cache.
pytestmark = pytest.mark.timeout(600)

SCOOPBOARD = ("orders", "consumers", "project", "tests", "benchmarks", "harness")
WHAT_IS_INSTALLED = f"""
import importlib.metadata, importlib.util, json, retry
print(json.dumps({{
    "retry": retry.__file__,
    "version": retry.__version__,
    "distribution": importlib.metadata.version("django-channels-retry"),
    "importable": [name for name in {SCOOPBOARD!r} if importlib.util.find_spec(name)],
    "extras": [name for name in ("sentry_sdk", "prometheus_client") if importlib.util.find_spec(name)],
}}))
"""


def superuser() -> dict[str, str]:
    return {f"DJANGO_SUPERUSER_{key.upper()}": value for key, value in OPERATOR.items()}


def prepare(site: Site) -> None:
    """Only the wheel's `retry` is there, nothing of Scoopboard (and no Sentry or Prometheus: those are extras);
    the schema and an operator are made."""
    installed = site.python_says(WHAT_IS_INSTALLED)
    assert Path(installed["retry"]).is_relative_to(site.venv), installed
    assert installed["distribution"] == installed["version"]
    assert installed["importable"] == []
    assert installed["extras"] == []
    site.manage("migrate", "--no-input")
    site.manage("createsuperuser", "--no-input", **superuser())


def exercise(site: Site) -> None:
    """What an operator of the outside project sees, over HTTP and the feed's websocket."""
    site.log_in()
    ids = site.post_json("/enqueue/", {"word": "scoop"})

    shout = site.wait_for(ids["shout"], lambda r: r["status"] == "SUCCESSFUL", "the retried task to succeed")
    assert shout["return_value"] == "SCOOP"
    assert shout["errors"] == ["builtins.ConnectionError"] and shout["attempts"] == 2

    dead = site.wait_for(ids["doomed"], lambda r: r["status"] == "FAILED", "the failing task to end FAILED")
    assert dead["errors"] == ["builtins.ValueError"] * 2 and dead["attempts"] == 2

    status, page = site.get(DASHBOARD)
    assert status == 200 and "Task dashboard" in page and FEED in page, page
    scripts_and_styles = site.static_paths(page)
    assert scripts_and_styles, page
    for path in scripts_and_styles:
        assert site.get(path)[0] == 200, path

    retried: list[str] = []
    pushes = asyncio.run(site.feed(1, lambda: retried.append(site.retry_from_admin(ids["doomed"]))))
    assert "1 task(s) retried." in retried[0]
    assert [push["type"] for push in pushes] == ["dashboard.figures"] * 2, pushes
    assert pushes[0]["figures"]["queues"][0]["dead"] == 1, "the feed's first figures count the dead letter"
    site.wait_for(
        ids["doomed"], lambda r: r["status"] in ("READY", "RUNNING") or len(r["errors"]) > 2, "the task to run again"
    )
    site.wait_for(
        ids["doomed"], lambda r: r["status"] == "FAILED" and len(r["errors"]) == 4, "the retried task's two attempts"
    )


def test_on_sqlite_the_embedded_server_runs_an_outside_project_in_one_process(
    outside_venv: Path, tmp_path: Path, site_logs: list[Any]
) -> None:
    site = Site(outside_venv, tmp_path)
    site_logs.append(site)
    prepare(site)
    try:
        site.serve("serve", site.python, "manage.py", "serve", "--port", str(site.port))
        exercise(site)
    finally:
        site.stop()


SERVICES = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))


@contextlib.contextmanager
def own_database(url: str) -> Iterator[str]:
    """A database of this test's own on the server of ``url``, dropped afterwards."""
    name = f"outside_{uuid.uuid4().hex[:12]}"
    server = urlsplit(url)._replace(path="/postgres").geturl()
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlsplit(url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def own_prefix(url: str) -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"outside-{uuid.uuid4().hex[:10]}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.mark.services
@pytest.mark.skipif(not SERVICES, reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL (the second pass)")
def test_on_postgresql_and_redis_daphne_runworker_and_dispatcher_run_an_outside_project(
    outside_venv: Path, tmp_path: Path, site_logs: list[Any]
) -> None:
    redis_url = os.environ["REDIS_URL"].split(",")[0]
    with own_database(os.environ["DATABASE_URL"]) as database_url, own_prefix(redis_url) as prefix:
        site = Site(outside_venv, tmp_path, DATABASE_URL=database_url, REDIS_URL=redis_url, REDIS_PREFIX=prefix)
        site_logs.append(site)
        prepare(site)
        try:
            site.start("worker", site.python, "manage.py", "runworker", "tasks.default")
            site.start("dispatcher", site.python, "manage.py", "dispatcher")
            daphne = str(site.venv / "bin" / "daphne")
            site.serve("daphne", daphne, "-b", "127.0.0.1", "-p", str(site.port), "outside.asgi:application")
            exercise(site)
        finally:
            site.stop()
