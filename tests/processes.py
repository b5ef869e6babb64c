"""Real server, worker, dispatcher and Redis processes for the tests, each logging to a file of its own."""

import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from harness import servers

# One subprocess of a test, as the benchmarks' cluster runs its own.
from harness.processes import Process as Process

# Taken from here by the tests that start processes.
from harness.servers import free_port as free_port
from harness.servers import wait_until_listening as wait_until_listening

ROOT = Path(__file__).resolve().parents[1]


def database_url(database: Mapping[str, Any]) -> str:
    """A DATABASE_URL for the database the test runs on (pytest-django's test database)."""
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    credentials = quote(database.get("USER") or "")
    if database.get("PASSWORD"):
        credentials += ":" + quote(database["PASSWORD"])
    host = database.get("HOST") or "127.0.0.1"
    port = database.get("PORT") or 5432
    return f"postgres://{credentials}@{host}:{port}/{database['NAME']}"


class Supervised(Process):
    """A process restarted whenever it exits, as a process manager would, until ``stop``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name=f"supervise-{self.name}", daemon=True)

    def start(self) -> "Supervised":
        super().start()
        if not self._watcher.is_alive():
            self._watcher.start()
        return self

    def _watch(self) -> None:
        while not self._stopping.wait(0.1):
            if not self.alive():
                super().start()

    def stop(self, grace: float = 5.0) -> None:
        self._stopping.set()
        if self._watcher.is_alive():
            self._watcher.join()
        super().stop(grace)


def test_settings_env(database: dict[str, Any], redis_url: str, redis_prefix: str, **extra: str) -> dict[str, str]:
    """The environment of a manage.py process on tests.settings, the test's database and its Redis key prefix."""
    return {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(database),
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": redis_prefix,
        **extra,
    }


def manage(*arguments: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *arguments]


def redis_server(port: int, log_dir: Path, name: str = "redis") -> Process:
    """A throwaway Redis that keeps nothing on disk: stopping it loses every message it held."""
    return Process(name, servers.redis_server_argv(port), dict(os.environ), log_dir)
