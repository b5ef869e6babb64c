"""The benchmark's own PostgreSQL database and SQLite file: made fresh for a run, dropped after it."""

import os
import subprocess
import tempfile
from pathlib import Path

import psycopg

from benchmarks import processes

PG_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
#: BENCH_DATABASE names the database (and the SQLite file), so that benchmarks run side by side stay apart.
PG_NAME = os.environ.get("BENCH_DATABASE", "scoopboard_bench")


def create_postgres(server: str = PG_SERVER, name: str = PG_NAME) -> str:
    """A fresh, migrated database; returns its URL."""
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + f"/{name}"
    # benchmarks.settings: on PostgreSQL it adds the durable peers' apps, whose tables live here too.
    migrate({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "benchmarks.settings"})
    return url


def drop_postgres(server: str = PG_SERVER, name: str = PG_NAME) -> None:
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_sqlite() -> str:
    path = Path(tempfile.gettempdir()) / f"{PG_NAME}.sqlite3"
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    url = f"sqlite:///{path}"
    migrate({"DATABASE_URL": url, "REDIS_URL": ""})
    return url


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [processes.PYTHON, "manage.py", "migrate", "--no-input", "--verbosity", "0"],
        cwd=processes.ROOT,
        env={**os.environ, **env},
        check=True,
    )
