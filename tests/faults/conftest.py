"""The fault-injection harness: real runworker, dispatcher and Redis processes around the test's database."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.db import close_old_connections, connections, transaction
from django.db.models import Count
from django.tasks import Task
from django.test import override_settings

from harness import layers
from retry.models import TaskRecord
from retry.outbox import outbox
from tests import processes
from tests.conftest import SHARED_REDIS

KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
#: Short timings for the processes a test starts: leases expire, and the dispatcher passes, in about a second.
TIMINGS = {
    "RETRY_LEASE": "1",
    "RETRY_DISPATCH_INTERVAL": "0.2",
    "RETRY_SHUTDOWN_GRACE": "5",
}
#: What the `production` harness adds: the production settings module, as the Procfile runs it, with retry delays
#: shortened through the environment as an operator would set them.
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "project.settings",
    "DEBUG": "0",
    "SECRET_KEY": "fault-tests-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "RETRY_MIN_DELAY": "0.05",
    "RETRY_BASE_DELAY": "0.05",
    "RETRY_MAX_DELAY": "0.5",
    "RETRY_JITTER": "0",
    "RETRY_HEARTBEAT_INTERVAL": "0.2",
}
LOG_TAIL = 12_000


class Faults:
    """Starts the processes of one test, enqueues through the same Redis, and stops everything afterwards."""

    def __init__(self, log_dir: Path, *, production: bool = False) -> None:
        self.log_dir = log_dir
        self.production = production
        self.processes: list[processes.Process] = []
        self.redis_url = SHARED_REDIS
        self.prefix = f"faults-{uuid.uuid4().hex[:10]}"
        self.capacity = 1000
        self.expiry = 60
        self._settings: override_settings | None = None
        self._loop = asyncio.new_event_loop()
        # Sends that fail reset their rows from this thread: its database connection is closed at the end.
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="faults-db")
        self._loop.set_default_executor(self._db_thread)
        self._thread = threading.Thread(target=self._loop.run_forever, name="faults-outbox", daemon=True)
        self._thread.start()
        outbox.use_loop(self._loop)

    def use_layer(self, *, redis_url: str = "", capacity: int = 0, expiry: int = 0) -> None:
        """Point this process and every process started later at a Redis channel layer."""
        self.redis_url = redis_url or self.redis_url
        self.capacity = capacity or self.capacity
        self.expiry = expiry or self.expiry
        if self._settings is not None:
            self._settings.disable()
        self._settings = override_settings(CHANNEL_LAYERS={"default": self.layer_config()})
        self._settings.enable()

    def layer_config(self) -> dict[str, Any]:
        """The channel layer project.settings builds from the environment this harness gives its processes."""
        host = {"address": self.redis_url, "socket_timeout": 30, "socket_connect_timeout": 5}
        config = {"hosts": [host], "prefix": self.prefix, "expiry": self.expiry, "capacity": self.capacity}
        return {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}

    def env(self, **overrides: Any) -> dict[str, str]:
        kept = {name: os.environ[name] for name in KEPT if name in os.environ}
        return {
            **kept,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": processes.database_url(connections["default"].settings_dict),
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": self.prefix,
            "CHANNEL_CAPACITY": str(self.capacity),
            "CHANNEL_EXPIRY": str(self.expiry),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            **TIMINGS,
            **(PRODUCTION if self.production else {}),
            **{name: str(value) for name, value in overrides.items()},
        }

    def worker(
        self,
        name: str = "worker",
        *,
        arguments: Iterable[str] = ("tasks.default",),
        supervised: bool = False,
        **env: Any,
    ) -> processes.Process:
        """A `manage.py runworker tasks.default` process (or runworker with the ``arguments`` given)."""
        kind = processes.Supervised if supervised else processes.Process
        argv = processes.manage("runworker", *arguments)
        return self._add(kind(name, argv, self.env(**env), self.log_dir)).start()

    def dispatcher(self, name: str = "dispatcher", **env: Any) -> processes.Process:
        return self._add(processes.Process(name, processes.manage("dispatcher"), self.env(**env), self.log_dir)).start()

    def redis(self, port: int) -> processes.Process:
        """A throwaway redis-server on ``port`` that keeps nothing on disk."""
        server = self._add(processes.redis_server(port, self.log_dir)).start()
        processes.wait_until_listening(port)
        return server

    def flush_outbox(self) -> bool:
        """Wait until this process has sent (or failed to send) every task message."""
        return outbox.flush(timeout=10)

    def send(self, channel: str, message: dict[str, Any]) -> None:
        """Put one message of the test's choosing on a channel, as any client of the layer could."""
        self._run(get_channel_layer().send(channel, message))  # type: ignore[union-attr]

    def close_layer(self) -> None:
        """Close this process's connections to its channel layer, before a layer of the test's own goes away."""
        self._run(layers.close_connections(get_channel_layer()))

    def _add(self, process: processes.Process) -> processes.Process:
        self.processes.append(process)
        return process

    def logs(self) -> dict[str, str]:
        return {process.name: process.log() for process in self.processes}

    def close(self) -> None:
        """Stop the task processes (gracefully, then by force), clear this test's keys, then stop Redis."""
        servers = [p for p in self.processes if isinstance(p.argv, list) and p.argv[0] == "redis-server"]
        stop_all([p for p in self.processes if p not in servers])
        outbox.flush(timeout=5)
        if any(server.alive() for server in servers) or not servers:
            self._run(_flush_layer())
        stop_all(servers)
        outbox.use_loop(None)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._db_thread.submit(connections.close_all).result(5)
        self._loop.close()  # and shuts its default executor down
        if self._settings is not None:
            self._settings.disable()

    def _run(self, coroutine: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)


async def _flush_layer() -> None:
    try:
        await get_channel_layer().flush()  # type: ignore[union-attr]
    except Exception as error:  # the test may have left Redis down
        print(f"could not flush the channel layer: {error!r}")


def stop_all(started: list[processes.Process], grace: float = 3.0) -> None:
    """SIGTERM every process, then SIGKILL whatever is still there after ``grace`` seconds."""
    for process in started:
        if isinstance(process, processes.Supervised):
            process.stop(grace=0)
        else:
            process.signal(15)
    deadline = time.monotonic() + grace
    for process in started:
        while process.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if process.alive():
            process.kill()


@pytest.fixture
def faults(request: pytest.FixtureRequest, transactional_db: None, tmp_path: Path) -> Iterator[Faults]:
    """The harness, with the shared Redis as channel layer under a key prefix of the test's own."""
    yield from _harness(request, tmp_path)


@pytest.fixture
def production(request: pytest.FixtureRequest, transactional_db: None, tmp_path: Path) -> Iterator[Faults]:
    """The harness whose processes run the Procfile's commands with `project.settings` and environment variables
    alone, as a deployment does: no test settings, no test apps (their tasks are in `tests/outside_tasks.py`)."""
    yield from _harness(request, tmp_path, production=True)


def _harness(request: pytest.FixtureRequest, tmp_path: Path, *, production: bool = False) -> Iterator[Faults]:
    harness = Faults(tmp_path, production=production)
    request.node.faults_harness = harness
    harness.use_layer()
    yield harness
    harness.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Show the tail of every process log under a failed test."""
    report = yield
    harness = getattr(item, "faults_harness", None)
    if harness is not None and report.failed:
        for name, text in harness.logs().items():
            report.sections.append((f"log of {name}", text[-LOG_TAIL:]))
    return report


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` (it may query the database) until it holds, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        close_old_connections()
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; tasks by status: {statuses()}")
        time.sleep(0.05)


def statuses() -> dict[str, int]:
    rows = TaskRecord.objects.values_list("status").annotate(number=Count("id"))
    return dict(rows.values_list("status", "number"))


def enqueue_many(task: Task[..., Any], keys: list[str], **kwargs: Any) -> dict[str, str]:
    """Enqueue ``task(key=…)`` for every key in one transaction; returns the task id of each key."""
    with transaction.atomic():
        return {key: task.enqueue(key=key, **kwargs).id for key in keys}


def unfinished(task_ids: Iterable[str]) -> int:
    """How many of ``task_ids`` are still READY or RUNNING (the project's own periodic tasks are not counted)."""
    return TaskRecord.objects.filter(pk__in=list(task_ids), status__in=["READY", "RUNNING"]).count()
