"""The real-client tier: daphne started as the Procfile starts it, on Redis, talked to with the websockets library.

One daphne per test module (starting one costs about a second); every test opens its own connections.
"""

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.test import override_settings
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin

from harness.layers import flush_channel_layer
from retry.outbox import outbox
from tests import processes
from tests.conftest import SHARED_REDIS
from tests.consumers.conftest import make_user, session_of

KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
#: Seconds a test waits for any one message from the server.
PATIENCE = 10.0


class Daphne:
    """`daphne … project.asgi:application` with project.settings, the test's database and a Redis prefix of its own."""

    def __init__(self, log_dir: Path, **env: str) -> None:
        self.port = processes.free_port()
        self.prefix = f"live-{uuid.uuid4().hex[:10]}"
        self.origin = f"http://127.0.0.1:{self.port}"
        daphne = str(Path(sys.executable).with_name("daphne"))
        argv = [daphne, "--bind", "127.0.0.1", "--port", str(self.port), "--proxy-headers", "project.asgi:application"]
        environment = {name: os.environ[name] for name in KEPT if name in os.environ}
        environment |= {
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DATABASE_URL": processes.database_url(connections["default"].settings_dict),
            "REDIS_URL": SHARED_REDIS,
            "REDIS_PREFIX": self.prefix,
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.process = processes.Process("daphne", argv, environment, log_dir)

    def layer(self) -> dict[str, Any]:
        """The channel layer the server reads, so this process's order events reach it."""
        # No worker takes the task messages here: room for every one the tests' orders enqueue.
        config = {"hosts": [{"address": SHARED_REDIS}], "prefix": self.prefix, "capacity": 100_000}
        return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        return self.process.log()

    async def connect(self, path: str, user: Any = None, origin: str | None = "", **options: Any) -> ClientConnection:
        """Open ``path`` with our own Origin (or ``origin``; None sends none), logged in as ``user`` if given."""
        headers = {}
        if user is not None:
            headers["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={await sync_to_async(session_of)(user)}"
        return await websockets.connect(
            self.url(path),
            origin=cast(Origin | None, self.origin if origin == "" else origin),
            additional_headers=headers,
            open_timeout=PATIENCE,
            **options,
        )


@pytest.fixture(scope="module")
def daphne(
    request: pytest.FixtureRequest, django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Daphne]:
    """The module's server; a module's DAPHNE_ENV adds to its environment."""
    server = Daphne(tmp_path_factory.mktemp("daphne"), **getattr(request.module, "DAPHNE_ENV", {}))
    layer = override_settings(CHANNEL_LAYERS=server.layer())
    layer.enable()
    server.process.start()
    try:
        processes.wait_until_listening(server.port, timeout=30)
        yield server
    finally:
        server.process.stop(grace=5)
        flush_channel_layer()
        layer.disable()
        print(f"--- daphne log ---\n{server.log()[-6000:]}")


@pytest.fixture
async def live(daphne: Daphne, transactional_db: None) -> AsyncIterator[Daphne]:
    """The module's daphne, with this test's order events published on its Redis on this test's loop."""
    outbox.use_loop(asyncio.get_running_loop())
    yield daphne
    await outbox.aflush()
    outbox.use_loop(None)
    # The outbox writes from this loop's threads when a send fails: their connections go with the test.
    await asyncio.get_running_loop().run_in_executor(None, connections.close_all)


@pytest.fixture
def staff(live: Daphne) -> Callable[..., Awaitable[Any]]:
    """staff(username, *permissions, **fields) → a staff user holding the named permissions ("app.codename")."""

    def create(username: str, *permissions: str, **fields: Any) -> Any:
        from django.contrib.auth.models import Permission

        user = make_user(username, **{"is_staff": True, **fields})
        for permission in permissions:
            app, codename = permission.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
        return user

    return sync_to_async(create)


async def receive(client: ClientConnection, timeout: float = PATIENCE) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(await asyncio.wait_for(client.recv(), timeout)))


async def until(client: ClientConnection, kind: str, timeout: float = PATIENCE) -> dict[str, Any]:
    """The first message of type ``kind``; earlier ones are dropped."""
    async with asyncio.timeout(timeout):
        while (message := await receive(client)).get("type") != kind:
            pass
    return message


async def close_code(client: ClientConnection, timeout: float = PATIENCE) -> int | None:
    """The code the server closed with, once every message before the close is read."""
    async with asyncio.timeout(timeout):
        try:
            while True:
                await client.recv()
        except websockets.ConnectionClosed:
            pass
    return client.close_code


def tracebacks(log: str) -> list[str]:
    return [line for line in log.splitlines() if "Traceback" in line or " ERROR " in line]
