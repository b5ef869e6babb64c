"""The example project (examples/outside), copied out of the repository and run with a fresh environment's Python:
its processes, an HTTP client with a session, and the dashboard feed's websocket."""

import asyncio
import http.cookiejar
import json
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Origin

from tests import processes
from tests.package.build import outside_env, run

EXAMPLE = processes.ROOT / "examples" / "outside"
OPERATOR = {"username": "operator", "password": "outside-operator-password-0123", "email": "ops@example.com"}
DASHBOARD = "/admin/retry/taskrecord/dashboard/"
FEED = "/ws/tasks/"


class Site:
    """One copy of the example project in ``where``, its processes and one logged-in operator's client."""

    def __init__(self, venv: Path, where: Path, **env: str) -> None:
        self.venv = venv
        self.root = where / "site"
        shutil.copytree(EXAMPLE, self.root, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3*"))
        self.logs = where / "logs"
        self.logs.mkdir()
        self.env = outside_env(
            PATH=f"{venv / 'bin'}:{outside_env().get('PATH', '')}",
            DJANGO_SETTINGS_MODULE="outside.settings",
            **env,
        )
        self.port = processes.free_port()
        self.processes: list[processes.Process] = []
        jar = http.cookiejar.CookieJar()
        self.cookies = jar
        # Loopback only: no proxy from the environment, ever.
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar)
        )

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def manage(self, *arguments: str, **env: str) -> str:
        """Run one `manage.py` command to its end in the site's directory."""
        return run([self.python, "manage.py", *arguments], cwd=self.root, env={**self.env, **env})

    def python_says(self, code: str) -> Any:
        """What a snippet prints as JSON, run by the fresh environment's Python in the site's directory."""
        return json.loads(run([self.python, "-c", code], cwd=self.root, env=self.env))

    def start(self, name: str, *argv: str) -> processes.Process:
        process = processes.Process(name, list(argv), self.env, self.logs, cwd=self.root)
        self.processes.append(process.start())
        return process

    def serve(self, name: str, *argv: str) -> None:
        """Start the web process and wait until it answers HTTP."""
        web = self.start(name, *argv)
        deadline = time.monotonic() + 60
        while True:
            assert web.alive(), f"{name} exited"
            try:
                with self.opener.open(self.url("/admin/login/"), timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, f"{name} does not answer on port {self.port}"
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM each process by its PID, SIGKILL what is still there after a few seconds."""
        for process in self.processes:
            process.stop(grace=8)

    def log_text(self) -> dict[str, str]:
        return {process.name: process.log() for process in self.processes}

    # HTTP, as a browser would: a cookie jar, Django's CSRF token with each POST.

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def cookie(self, name: str) -> str:
        return next((c.value or "" for c in self.cookies if c.name == name), "")

    def get(self, path: str) -> tuple[int, str]:
        return self.request(urllib.request.Request(self.url(path)))

    def post_form(self, path: str, fields: list[tuple[str, str]]) -> tuple[int, str]:
        body = urllib.parse.urlencode([*fields, ("csrfmiddlewaretoken", self.cookie("csrftoken"))]).encode()
        return self.request(urllib.request.Request(self.url(path), data=body, method="POST"))

    def post_json(self, path: str, payload: dict[str, Any]) -> Any:
        headers = {"Content-Type": "application/json", "X-CSRFToken": self.cookie("csrftoken")}
        status, body = self.request(
            urllib.request.Request(self.url(path), data=json.dumps(payload).encode(), headers=headers, method="POST")
        )
        assert status == 200, body
        return json.loads(body)

    def request(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def log_in(self) -> None:
        """The admin's login form, with the superuser `createsuperuser --no-input` made."""
        status, page = self.get("/admin/login/")
        assert status == 200 and self.cookie("csrftoken"), page
        fields = [("username", OPERATOR["username"]), ("password", OPERATOR["password"]), ("next", "/admin/")]
        status, page = self.post_form("/admin/login/", fields)
        assert status == 200 and self.cookie("sessionid"), page
        assert "Log out" in page, page

    def result(self, task_id: str) -> dict[str, Any]:
        status, body = self.get(f"/tasks/{task_id}/")
        assert status == 200, body
        return dict(json.loads(body))

    def wait_for(self, task_id: str, holds: Callable[[dict[str, Any]], bool], what: str, timeout: float = 60) -> Any:
        """Poll the task's result (Django's TaskResult, as the example's view reads it) until ``holds``."""
        deadline = time.monotonic() + timeout
        while not holds(found := self.result(task_id)):
            assert time.monotonic() < deadline, f"timed out waiting for {what}; the task is {found}"
            time.sleep(0.1)
        return found

    def retry_from_admin(self, task_id: str) -> str:
        """The task list's "Retry selected dead tasks now" action: asked, confirmed; returns the page after it."""
        chosen = [("action", "retry_now"), ("_selected_action", task_id), ("index", "0")]
        status, page = self.post_form("/admin/retry/taskrecord/", chosen)
        assert status == 200 and "Retry selected dead tasks now" in page and task_id in page, page
        status, page = self.post_form("/admin/retry/taskrecord/", [*chosen, ("confirmed", "yes")])
        assert status == 200, page
        return page

    def static_paths(self, page: str) -> list[str]:
        return re.findall(r'(?:src|href)="(/static/retry/[^"]+)"', page)

    # The dashboard's feed: a websocket with the operator's session, from this site's own origin.

    async def feed(self, pushes: int, during: Callable[[], None], timeout: float = 30) -> list[dict[str, Any]]:
        """The feed's first message, then the ``pushes`` that follow what ``during`` does (run in a thread)."""
        headers = {"Cookie": f"sessionid={self.cookie('sessionid')}"}
        url = f"ws://127.0.0.1:{self.port}{FEED}"
        async with connect(url, origin=Origin(self.url("")), additional_headers=headers, proxy=None) as socket:
            received = [json.loads(await asyncio.wait_for(socket.recv(), timeout))]
            await asyncio.to_thread(during)
            for _ in range(pushes):
                received.append(json.loads(await asyncio.wait_for(socket.recv(), timeout)))
            return received
