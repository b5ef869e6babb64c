"""`manage.py serve` (what `make run` starts): the site, with task workers and a dispatcher in the same process."""

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from django.conf import settings
from django.tasks.base import TaskResultStatus as Status

from retry.models import TaskRecord
from tests import tasks
from tests.processes import Process, database_url, free_port, manage, wait_until_listening

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
        "RETRY_EMBEDDED": "1",
        # A message sent by this test process to its own in-memory layer never reaches the server:
        # the server's dispatcher must count it lost and send it again.
        "RETRY_MESSAGE_EXPIRY": "0.5",
    }
    server = Process("serve", manage("serve", "--port", str(port)), env, tmp_path).start()
    try:
        wait_until_listening(port, timeout=30)
        yield port
    finally:
        server.stop()
        print(server.log())


def wait_for[T](predicate: Callable[[], T], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def test_the_embedded_server_runs_tasks_and_its_dispatcher(served: int) -> None:
    result = tasks.record.enqueue("served")
    wait_for(lambda: TaskRecord.objects.filter(pk=result.id, status=Status.SUCCESSFUL).exists())
    # The dispatcher's pass sent the task and notes its heartbeat at its end: the task may have run before.
    wait_for(lambda: healthz(served)["dispatcher"] is not None)
    health = healthz(served)
    assert (health["status"], health["channel_layer"]) == ("ok", "ok")
    assert health["dispatcher"]["stale"] is False


def healthz(port: int) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            return cast(dict[str, Any], json.load(response))
    except urllib.error.HTTPError as error:
        return cast(dict[str, Any], json.load(error))


def test_a_task_that_raises_systemexit_fails_alone_and_the_embedded_server_runs_on(served: int) -> None:
    ender = tasks.ends_its_process.enqueue("ender", how="SystemExit")
    wait_for(lambda: TaskRecord.objects.filter(pk=ender.id, status=Status.FAILED).exists())
    after = tasks.record.enqueue("after the exit")
    wait_for(lambda: TaskRecord.objects.filter(pk=after.id, status=Status.SUCCESSFUL).exists())
    with urllib.request.urlopen(f"http://127.0.0.1:{served}/healthz", timeout=10) as response:
        assert response.status == 200
