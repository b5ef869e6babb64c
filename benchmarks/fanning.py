"""Board fan-out: kitchen-board clients over 2 daphne processes; a step changes; when does every client know?

Both daphne processes run the production settings (project.settings: PostgreSQL, the Redis channel layer, so
each process gets every event); the clients run in processes of their own (benchmarks.fan_clients), spread
evenly over the two. Each size gets fresh daphne processes, so that the memory a size's connections take is
not memory an earlier size freed. The functions after ``measure`` serve one process of clients in this one
(benchmarks.units.boards).
"""

import asyncio
import json
import time
from pathlib import Path
from typing import Any, cast

import websockets
from asgiref.sync import sync_to_async
from websockets.typing import Origin

from benchmarks import fan_clients, fan_crowd, figures, processes, profiling, systems
from benchmarks.units import probes
from harness import servers

#: daphne processes serving the boards, as a deployment runs them.
DAPHNES = 2
#: Processes holding the clients: enough that two cores, not one client loop, set the pace.
CLIENT_PROCESSES = 8
#: What the daphne processes run: the project's own settings, not the benchmark's.
PRODUCTION = {"DJANGO_SETTINGS_MODULE": "project.settings"}
#: Connections opened at the same time while clients join (one process of clients).
CONNECT_BATCH = 50
#: Seconds every client gets to see one change.
ROUND_TIMEOUT = 30.0
#: Seconds after the clients joined before the memory is read, and between two rounds.
SETTLE = 2.0
PAUSE = 0.3
#: Seconds with every client connected and no event, to see what the connections cost daphne at rest.
IDLE = 5.0
#: Rounds sampled by py-spy (one daphne's CPU) after the measured rounds of the largest size.
PROFILED_ROUNDS = 10
PROFILE = profiling.PROFILES / "fanout_daphne.txt"


def measure(sizes: list[int], rounds: int) -> dict[str, Any]:
    fan_clients.raise_file_limit()  # the daphne processes inherit it
    systems.Ours().reset()
    user, step_id, cookie = kitchen_fixture()
    results = []
    profile = None
    for size in sizes:
        result, stacks = spread(size, rounds, cookie, user, step_id, profile=size == max(sizes))
        results.append(result)
        profile = profiling.profile(stacks) if stacks else profile
    return {
        "board": "ws/kitchen/",
        "daphnes": DAPHNES,
        "client_processes": CLIENT_PROCESSES,
        "rounds": rounds,
        "sizes": results,
        "profile": profile,
    }


def spread(
    size: int, rounds: int, cookie: str, user: Any, step_id: int, *, profile: bool
) -> tuple[dict[str, Any], Path | None]:
    """``size`` clients over fresh daphne processes: their delays, and each process's memory and CPU."""
    ports = distinct_ports(DAPHNES)
    daphnes = [processes.daphne(port, PRODUCTION) for port in ports]
    urls = [f"ws://127.0.0.1:{port}/ws/kitchen/" for port in ports]
    crowd = None
    try:
        for port in ports:
            servers.wait_until_listening(port, timeout=60)
        asyncio.run(warm(urls, cookie))
        pids = [daphne.pid for daphne in daphnes]
        rss_before, cpu_before = [processes.rss_kib(pid) for pid in pids], cpu(pids)
        began = time.monotonic()
        crowd = fan_crowd.FanCrowd(urls, cookie, size, CLIENT_PROCESSES)
        joined = time.monotonic() - began
        time.sleep(SETTLE)
        rss_after, cpu_joined = [processes.rss_kib(pid) for pid in pids], cpu(pids)
        time.sleep(IDLE)
        cpu_idle = [after - before for before, after in zip(cpu_joined, cpu(pids), strict=True)]
        cpu_idled = cpu(pids)
        clients_before = sum(cpu(crowd.pids()))
        delays, lost, seconds = run_rounds(crowd, rounds, user, step_id)
        cpu_rounds = [after - before for before, after in zip(cpu_idled, cpu(pids), strict=True)]
        clients_cpu = sum(cpu(crowd.pids())) - clients_before
        stacks: Path | None = None
        if profile:
            with profiling.recording(pids[0], PROFILE) as stacks:
                run_rounds(crowd, PROFILED_ROUNDS, user, step_id)
        crowd.stop()
        crowd = None
    finally:
        if crowd is not None:
            crowd.kill()
        processes.stop(daphnes)
    shares = [size // DAPHNES + (1 if index < size % DAPHNES else 0) for index in range(DAPHNES)]
    per_daphne = [
        {
            "connections": share,
            "rss_before_mib": round(before / 1024, 1),
            "rss_after_mib": round(after / 1024, 1),
            "kib_per_connection": round((after - before) / share, 1),
            "cpu_ms_per_connect": round((joined_cpu - start_cpu) * 1000 / share, 2),
            "cpu_percent_idle": round(100 * idle / IDLE, 1),
            "cpu_percent_during_rounds": round(100 * used / seconds, 1),
            "cpu_ms_per_round": round(used * 1000 / rounds, 1),
        }
        for share, before, after, start_cpu, joined_cpu, idle, used in zip(
            shares, rss_before, rss_after, cpu_before, cpu_joined, cpu_idle, cpu_rounds, strict=True
        )
    ]
    return {
        "clients": size,
        "delivered": len(delays),
        "expected": size * rounds,
        "lost": lost,
        **figures.summary_ms(delays),
        "seconds_to_join": round(joined, 1),
        # The client processes share the machine's cores with the servers: what they took of them.
        "client_processes_cpu_ms_per_round": round(clients_cpu * 1000 / rounds, 1),
        # The target's figure: the daphne process that took the most per connection.
        "kib_per_connection": max(daphne["kib_per_connection"] for daphne in per_daphne),
        "daphnes": per_daphne,
    }, stacks


def distinct_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(servers.free_port())
    return sorted(ports)


def cpu(pids: list[int]) -> list[float]:
    return [probes.cpu_seconds(pid) for pid in pids]


async def warm(urls: list[str], cookie: str) -> None:
    """One client per process first: imports, the first session read, the relay's join of the groups."""
    for url in urls:
        origin = url.replace("ws://", "http://").split("/ws/", 1)[0]
        await (await connect(url, {"Cookie": cookie}, origin)).close()
    await asyncio.sleep(0.5)


def run_rounds(crowd: fan_crowd.FanCrowd, rounds: int, user: Any, step_id: int) -> tuple[list[float], int, float]:
    """Change the step ``rounds`` times: every client's delay, the deliveries that never came, the seconds taken."""
    delays: list[float] = []
    lost = 0
    began = time.monotonic()
    for _ in range(rounds):
        started = time.time()
        toggle(step_id, user)
        seen = crowd.delays_after(started)
        delays += [delay for delay in seen if delay is not None]
        lost += sum(1 for delay in seen if delay is None)
        time.sleep(PAUSE)
    return delays, lost, time.monotonic() - began


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


def staff_session(username: str = "bench-staff", **defaults: Any) -> tuple[Any, str]:
    """A staff user (made with ``defaults`` if new), and the session cookie a kitchen board of theirs sends."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": True, **defaults})
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
