"""Redis Sentinel: the Procfile's web, worker and dispatcher find the channel layer's master through three
sentinels, and go on through a failover when the master is killed."""

import asyncio
import contextlib
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings
from redis import exceptions as redis_exceptions
from websockets.typing import Origin

from harness.sentinel import Deployment
from orders import services
from project import sentinel
from retry.models import TaskRecord
from tests import outside_tasks, processes
from tests.factories import ORDER_FIELDS
from tests.faults.conftest import Faults, enqueue_many, stop_all, unfinished, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[Deployment, dict[int, processes.Process]]]:
    """A master, its replica and three sentinels, ready for a failover; the two Redis servers by port."""
    topology = Deployment(tmp_path)
    redis = {
        topology.master_port: processes.Process("redis-master", topology.master_argv(), {}, tmp_path),
        topology.replica_port: processes.Process("redis-replica", topology.replica_argv(), {}, tmp_path),
    }
    sentinels = [processes.Process(f"sentinel-{n}", topology.sentinel_argv(n), {}, tmp_path) for n in range(3)]
    for server in [*redis.values(), *sentinels]:
        server.start()
    try:
        topology.wait_until_ready()
        yield topology, redis
    finally:
        stop_all([*redis.values(), *sentinels])


def layer_of(topology: Deployment) -> dict[str, Any]:
    """The channel layer project.settings builds from the deployment's variables."""
    variables = sentinel.Sentinels(
        addresses=tuple(("127.0.0.1", port) for port in topology.sentinel_ports),
        masters=(topology.master_name,),
        sentinel_password=topology.sentinel_password,
        master_password=topology.password,
    )
    hosts = sentinel.layer_hosts(variables, {"socket_timeout": 30, "socket_connect_timeout": 5})
    config = {"hosts": hosts, "prefix": "sentinel", "capacity": 1000}
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}


class PickupScreen:
    """A pickup screen's websocket client on a thread of its own, reconnecting when closed: the order numbers it
    was shown, each with the changes that showed it (``snapshot``, ``placed``, ``resync``…)."""

    def __init__(self, port: int) -> None:
        self.url = f"ws://127.0.0.1:{port}/ws/pickup/"
        self.origin = f"http://127.0.0.1:{port}"
        self.shown: dict[int, set[str]] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self.watch()), name="pickup-screen", daemon=True)
        self.thread.start()

    async def watch(self) -> None:
        while not self.stopping.is_set():
            try:
                async with websockets.connect(self.url, origin=Origin(self.origin), open_timeout=5) as client:
                    while not self.stopping.is_set():
                        with contextlib.suppress(TimeoutError):
                            self.note(json.loads(await asyncio.wait_for(client.recv(), 0.2)))
            except (OSError, websockets.WebSocketException):
                await asyncio.sleep(0.2)

    def note(self, message: dict[str, Any]) -> None:
        if message.get("type") == "snapshot":
            for card in message["orders"]:
                self.shown.setdefault(card["number"], set()).add("snapshot")
        elif message.get("type") == "order":
            self.shown.setdefault(message["order"]["number"], set()).add(message["change"])

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)


def healthy(port: int) -> bool:
    """Whether the web process's /healthz finds the database and the channel layer answering."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def outage(port: int, since: float, timeout: float = 20.0) -> float:
    """Seconds from ``since`` until /healthz answers 200 again, after it has failed at least once."""
    failed = False
    while time.monotonic() - since < timeout:
        if not healthy(port):
            failed = True
        elif failed:
            return time.monotonic() - since
        time.sleep(0.05)
    raise AssertionError(f"/healthz did not fail and recover within {timeout} s of the kill")


def place_until_live(screen: PickupScreen, timeout: float = 20.0) -> int:
    """Place orders, one every 2 s, until the screen is sent one as it is placed (not found by a resync)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        number = services.place_order(**ORDER_FIELDS).number
        wait_until = time.monotonic() + 2
        while time.monotonic() < wait_until:
            if "placed" in screen.shown.get(number, set()):
                return number
            time.sleep(0.05)
    raise AssertionError(f"no order placed reached the pickup screen live within {timeout} s")


@pytest.mark.timeout(90)
def test_the_layer_follows_a_failover_and_every_task_runs_once(
    deployment: tuple[Deployment, dict[int, processes.Process]], production: Faults, tmp_path: Path
) -> None:
    topology, redis = deployment
    trace = str(tmp_path / "runs")
    variables: dict[str, Any] = {**topology.environment(), "REDIS_PREFIX": "sentinel"}
    layer = override_settings(CHANNEL_LAYERS=layer_of(topology))
    layer.enable()
    web_port = processes.free_port()
    daphne = str(Path(sys.executable).with_name("daphne"))
    web = processes.Process(
        "daphne",
        [daphne, "--bind", "127.0.0.1", "--port", str(web_port), "project.asgi:application"],
        production.env(**variables),
        tmp_path,
    )
    screen = None
    try:
        production.dispatcher(**variables)
        production.worker(**variables, RETRY_CONCURRENCY=2)
        web.start()
        processes.wait_until_listening(web_port, timeout=30)
        screen = PickupScreen(web_port)
        # Slow tasks and two slots: most wake-up messages still wait on the master when it dies.
        before = enqueue_many(
            outside_tasks.sleep_then_record, [f"before-{n}" for n in range(20)], path=trace, seconds=0.2
        )
        assert production.flush_outbox()
        place_until_live(screen)

        # The master now: on a loaded machine the sentinels may already have failed over once, on a late ping.
        master = topology.master_port_now()
        (replica,) = set(redis) - {master}
        killed = time.monotonic()
        redis[master].kill()  # SIGKILL: what the replica had not yet received is lost with it
        during = enqueue_many(outside_tasks.record, [f"during-{n}" for n in range(20)], path=trace)
        out = outage(web_port, killed)
        after = enqueue_many(outside_tasks.record, [f"after-{n}" for n in range(20)], path=trace)
        place_until_live(screen)
        back = time.monotonic() - killed

        ids = {**before, **during, **after}
        wait_for(lambda: unfinished(ids.values()) == 0, 30, "every task to finish after the failover")
        print(f"/healthz failed for {out:.1f} s after the kill; a live order event came {back:.1f} s after it")
        assert topology.master_port_now() == replica
        assert set(TaskRecord.objects.filter(pk__in=ids.values()).values_list("status", flat=True)) == {"SUCCESSFUL"}
        assert outside_tasks.runs(trace) == {key: 1 for key in ids}
    finally:
        if screen is not None:
            screen.stop()
        stop_all([web])
        print(f"--- daphne log ---\n{web.log()[-4000:]}")
        production.close_layer()
        layer.disable()


def test_the_rate_limit_cache_follows_a_failover(deployment: tuple[Deployment, dict[int, processes.Process]]) -> None:
    """Django's cache, built by project.sentinel.cache as project.settings builds it under Sentinel, writes to
    whichever server is master."""
    topology, redis = deployment
    variables = sentinel.Sentinels(
        addresses=tuple(("127.0.0.1", port) for port in topology.sentinel_ports),
        masters=(topology.master_name,),
        sentinel_password=topology.sentinel_password,
        master_password=topology.password,
    )
    config = sentinel.cache(variables, "sentinel-cache", {"socket_connect_timeout": 5})
    cache = RedisCache(config["LOCATION"], {"OPTIONS": config["OPTIONS"], "KEY_PREFIX": config["KEY_PREFIX"]})
    cache.set("orders-from-10.0.0.7", 1)
    assert cache.incr("orders-from-10.0.0.7") == 2
    master = topology.master_port_now()
    redis[master].kill()

    deadline = time.monotonic() + 20
    while True:
        try:
            cache.set("after-failover", 1)
            break
        except redis_exceptions.ConnectionError:  # the old master's connection, or no master elected yet
            assert time.monotonic() < deadline, "the cache found no master within 20 s of the kill"
            time.sleep(0.1)
    assert topology.master_port_now() != master
    assert cache.incr("after-failover") == 2
    cache.close()
