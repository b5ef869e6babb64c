"""Board fan-out: N websocket clients on one daphne process; a step changes; when does every client know?"""

import asyncio
import json
import time
from typing import Any, cast

import websockets
from asgiref.sync import sync_to_async
from websockets.typing import Origin

from benchmarks import figures, processes, systems
from harness import servers

#: Connections opened at the same time while clients join.
CONNECT_BATCH = 50
#: Seconds every client gets to see one change.
ROUND_TIMEOUT = 30.0


def measure(sizes: list[int], rounds: int) -> dict[str, Any]:
    systems.Ours().reset()
    user, step_id, cookie = kitchen_fixture()
    port = servers.free_port()
    server = processes.daphne(port)
    try:
        servers.wait_until_listening(port, timeout=20)
        results = [asyncio.run(fan_out(server.pid, port, cookie, size, rounds, user, step_id)) for size in sizes]
    finally:
        processes.stop([server])
    return {"board": "ws/kitchen/", "rounds": rounds, "sizes": results}


def kitchen_fixture() -> tuple[Any, int, str]:
    """A staff user with a session, and an order whose first step the benchmark claims and releases."""
    from orders import services

    user, cookie = staff_session()
    order = services.place_order(
        customer_name="Bench",
        customer_email="bench@example.com",
        flavour=first_choice("Flavour"),
        size=first_choice("Size"),
    )
    first_step = order.steps.order_by("pk").first()
    assert first_step is not None
    return user, first_step.pk, cookie


def staff_session() -> tuple[Any, str]:
    """A staff user, and the session cookie a kitchen board of theirs sends."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    user, _ = get_user_model().objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    session = SessionStore()
    session.update(
        {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
    )
    session.create()
    return user, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def first_choice(name: str) -> str:
    from orders import models

    return cast(str, getattr(models, name).values[0])


async def fan_out(pid: int, port: int, cookie: str, size: int, rounds: int, user: Any, step_id: int) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{port}/ws/kitchen/"
    headers = {"Cookie": cookie}
    origin = f"http://127.0.0.1:{port}"
    await (await connect(url, headers, origin)).close()  # warm: imports, first session read
    await asyncio.sleep(0.5)
    before = processes.rss_kib(pid)
    clients = []
    for start in range(0, size, CONNECT_BATCH):
        batch = range(start, min(size, start + CONNECT_BATCH))
        clients += await asyncio.gather(*(connect(url, headers, origin) for _ in batch))
    await asyncio.sleep(1.0)
    after = processes.rss_kib(pid)
    delays = []
    try:
        for _ in range(rounds):
            delays += await one_change(clients, user, step_id)
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
    return {
        "clients": size,
        "delivered": len(delays),
        "expected": size * rounds,
        **figures.summary_ms(delays),
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "kib_per_connection": round((after - before) / size, 1),
    }


async def connect(url: str, headers: dict[str, str], origin: str) -> Any:
    client = await websockets.connect(
        url, additional_headers=headers, origin=Origin(origin), max_size=2**22, open_timeout=60
    )
    snapshot = json.loads(await asyncio.wait_for(client.recv(), 60))
    assert snapshot["type"] == "snapshot", snapshot
    return client


def toggle(step_id: int, user: Any) -> None:
    """Claim the step, or release it when it is claimed."""
    from orders import services
    from orders.models import Step

    claimed = Step.objects.get(pk=step_id).status == Step.Status.CLAIMED
    (services.release_step if claimed else services.claim_step)(step_id, user)


async def one_change(clients: list[Any], user: Any, step_id: int) -> list[float]:
    """Claim or release the step and return each client's delay until it saw the change."""
    started = time.time()
    await sync_to_async(toggle)(step_id, user)
    arrivals = await asyncio.gather(*(arrival(client) for client in clients), return_exceptions=True)
    return [stamp - started for stamp in arrivals if isinstance(stamp, float)]


async def arrival(client: Any) -> float:
    """When the next order event reaches ``client``."""
    deadline = time.monotonic() + ROUND_TIMEOUT
    while True:
        message = json.loads(await asyncio.wait_for(client.recv(), max(0.01, deadline - time.monotonic())))
        if message.get("type") == "order":
            return time.time()
