"""The soak: a whole cluster (benchmarks.cluster) serving a kitchen through faults, and its verdict.

    python -m benchmarks.soak OUT [--seconds 60] [--rate 1] [--kitchens 30] [--pickups 30] [--staff 3] ...

Orders are POSTed through HAProxy at a steady rate, each with a webhook to a receiver on 127.0.0.1
(benchmarks.webhook_sink); their e-mails go to an SMTP sink (benchmarks.mail_sink). Kitchen boards and pickup
screens (benchmarks.soak_boards, in processes of their own) and the staff (benchmarks.kitchen_staff) are connected
through HAProxy. On a schedule over the run: a web process is killed with SIGKILL, a Redis shard is killed and
started again, PostgreSQL restarts, a worker is killed with SIGKILL, a dispatcher stopped with SIGTERM; each is
started again at once. After each fault the soak measures how long until every board shows what the database
holds. The verdict (benchmarks.soak_verdict) is printed and written to OUT as JSON; the exit status is 1 when it
fails.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import django

from benchmarks import cluster, kitchen_staff, mail_sink, ordering, soak_verdict, webhook_sink

LOGS = Path(__file__).resolve().parent / "results" / "logs" / "soak"
#: When each fault comes, as a share of the run, and what it is.
FAULTS = (
    (0.15, "kill -9 a web process"),
    (0.30, "kill a Redis shard"),
    (0.45, "restart PostgreSQL"),
    (0.60, "kill -9 a worker"),
    (0.75, "SIGTERM a dispatcher"),
)
#: Seconds an order counts as changing after it was placed or acted on: boards may not show it yet.
GRACE = 3.0
#: Seconds between two comparisons of the boards with the database.
CHECK_INTERVAL = 0.5
CHECKING = asyncio.Lock()
#: Seconds the cluster gets after the last order for every task, e-mail, webhook and board to be done.
SETTLE_TIMEOUT = 120.0


def settings(mail_port: int, hook_port: int) -> dict[str, str]:
    """What the soak sets in the production settings of every process (the rest: their defaults)."""
    return {
        "SECRET_KEY": "soak-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789",
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "warning",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(mail_port),
        # Every order comes from 127.0.0.1; each has an e-mail address of its own.
        "ORDER_RATE_LIMIT_PER_ADDRESS": "1000000",
        "WEBHOOK_SECRETS": "soak-webhook-secret-0123456789abcdef",
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WEBHOOK_ALLOWED_PORTS": str(hook_port),
        # A message lost with its Redis shard is sent again by the dispatcher after this many seconds.
        "CHANNEL_EXPIRY": "15",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=1.0, help="orders per second")
    parser.add_argument("--kitchens", type=int, default=30)
    parser.add_argument("--pickups", type=int, default=30)
    parser.add_argument("--staff", type=int, default=3)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--equal-within", type=float, default=30.0, help="seconds the boards get after a fault")
    parser.add_argument("--logs", default=str(LOGS), help="folder for each process's output")
    options = parser.parse_args()
    result = run(options)
    with open(options.out, "w") as out:
        json.dump(result, out, indent=2, default=str)
    print(soak_verdict.summary(result))
    sys.exit(0 if result["verdict"]["passed"] else 1)


def run(options: argparse.Namespace) -> dict[str, Any]:
    controller, mails = mail_sink.start()
    hooks = webhook_sink.Sink().start()
    soak = cluster.Cluster(settings(controller.port, hooks.port), Path(options.logs))
    crowd: list[Any] = []
    try:
        soak.start()
        os.environ.update(soak.env)  # the soak reads the cluster's database too
        django.setup()
        with tempfile.TemporaryDirectory() as folder:
            crowd = start_boards(soak.url, options, folder)
            driven = asyncio.run(drive(soak, options, crowd, hooks))
            boards = stop_boards(crowd, folder)
            crowd = []
            return soak_verdict.judge(options, driven, boards, mails.taken(), hooks.counts(), soak)
    finally:
        for child in crowd:
            child.kill()
        soak.stop()
        hooks.stop()
        controller.stop()


def start_boards(url: str, options: argparse.Namespace, folder: str) -> list[Any]:
    import subprocess

    from benchmarks import fanning

    _, cookie = fanning.staff_session()
    count = max(1, options.client_processes)
    children = []
    for index in range(count):
        kitchens = options.kitchens // count + (index < options.kitchens % count)
        pickups = options.pickups // count + (index < options.pickups % count)
        argv = ["-m", "benchmarks.soak_boards", url, url, cookie, str(kitchens), str(pickups), f"{folder}/{index}"]
        children.append(
            subprocess.Popen([sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        )
    for child in children:
        assert child.stdout is not None
        if (line := child.stdout.readline().strip()) != "ready":
            raise RuntimeError(f"board process {child.pid} said {line!r}")
    return children


def stop_boards(children: list[Any], folder: str) -> list[dict[str, Any]]:
    """Stop every board; what each board noted (benchmarks.soak_boards writes it to <folder>/<index>)."""
    boards = []
    for child in children:
        child.stdin.write("stop\n")
        child.stdin.flush()
    for index, child in enumerate(children):
        child.stdout.readline()
        child.wait(30)
        with open(f"{folder}/{index}") as file:
            boards += json.load(file)
    return boards


async def drive(
    soak: cluster.Cluster, options: argparse.Namespace, crowd: list[Any], hooks: webhook_sink.Sink
) -> dict[str, Any]:
    database = ThreadPoolExecutor(1)  # one thread, one connection, for the soak's own reads
    loop = asyncio.get_running_loop()
    touched: dict[int, float] = {}
    staff = [
        kitchen_staff.Staff(soak.url, soak.url, cookie, name, index, touched)
        for index, (name, cookie) in enumerate(await loop.run_in_executor(database, staff_sessions, options.staff))
    ]
    working = [asyncio.ensure_future(person.run()) for person in staff]
    began, run_id = time.time(), uuid.uuid4().hex[:8]
    count = max(1, round(options.seconds * options.rate))
    extra = {"webhook_url": hooks.url}
    placing = asyncio.ensure_future(ordering.place(soak.port, count, options.rate, 0, run_id, extra))
    faults: list[dict[str, Any]] = []
    watching = []
    for share, name in FAULTS:
        await asyncio.sleep(max(0.0, began + share * options.seconds - time.time()))
        at = time.time()
        restarted = await loop.run_in_executor(None, inject, soak, name)
        fault: dict[str, Any] = {"fault": name, "at": at - began, "restart_s": round(restarted, 2)}
        faults.append(fault)
        watching.append(asyncio.ensure_future(watch(fault, loop, database, crowd, touched, at + options.equal_within)))
    placed = await placing
    await asyncio.gather(*watching)
    for person in staff:
        person.stopping = True
    for task in working:
        task.cancel()
    await asyncio.gather(*working, return_exceptions=True)
    ended = time.time()
    settled = await settle(loop, database, crowd, touched, ended + SETTLE_TIMEOUT, hooks)
    for fault in faults:
        fault["at"] = round(fault["at"], 2)
    return {
        "began": began,
        "seconds_of_orders": round(ended - began, 2),
        "placed": placed,
        "faults": faults,
        "settle_s": settled,
        "staff_actions": [person.actions for person in staff],
        "pids": soak.pids(),
    }


def inject(soak: cluster.Cluster, name: str) -> float:
    if name == "kill -9 a web process":
        return soak.kill("web", 0)
    if name == "kill a Redis shard":
        return soak.kill("redis", 1)
    if name == "restart PostgreSQL":
        return soak.restart_database()
    if name == "kill -9 a worker":
        return soak.kill("worker", 0)
    return soak.kill("dispatcher", 0, signal.SIGTERM)


def staff_sessions(count: int) -> list[tuple[str, str]]:
    """``count`` kitchen staff allowed every action, each with the session cookie of their board."""
    from benchmarks import fanning

    sessions = []
    for index in range(count):
        user, cookie = fanning.staff_session(f"soak-staff-{index}", is_superuser=True)
        sessions.append((user.get_username(), cookie))
    return sessions


async def watch(
    fault: dict[str, Any],
    loop: asyncio.AbstractEventLoop,
    database: ThreadPoolExecutor,
    crowd: list[Any],
    touched: dict[int, float],
    by: float,
) -> None:
    """Note in ``fault`` the seconds until every board shows the database (orders changing just then aside) after
    it, from the moment it was started again; None: not by ``by``."""
    began = time.time()
    fault["equal_after_s"] = None
    while time.time() < by:
        if await boards_equal(loop, database, crowd, touched):
            fault["equal_after_s"] = round(time.time() - began, 2)
            return
        await asyncio.sleep(CHECK_INTERVAL)


async def boards_equal(
    loop: asyncio.AbstractEventLoop, database: ThreadPoolExecutor, crowd: list[Any], touched: dict[int, float]
) -> bool:
    async with CHECKING:  # one comparison at a time: the board processes answer in turn
        state = await loop.run_in_executor(database, soak_verdict.database_state, dict(touched), GRACE)
        if state is None:  # the database is away (restarting)
            return False
        line = "check " + json.dumps(state) + "\n"
        equal = total = 0
        for child in crowd:
            child.stdin.write(line)
            child.stdin.flush()
        for child in crowd:
            answer = json.loads(await loop.run_in_executor(None, child.stdout.readline))
            equal, total = equal + answer["equal"], total + answer["boards"]
        return equal == total


async def settle(
    loop: asyncio.AbstractEventLoop,
    database: ThreadPoolExecutor,
    crowd: list[Any],
    touched: dict[int, float],
    by: float,
    hooks: webhook_sink.Sink,
) -> float | None:
    """Seconds until every task is finished, every webhook in and every board equal to the database."""
    began = time.time()
    while time.time() < by:
        done = await loop.run_in_executor(database, soak_verdict.work_done, hooks.counts())
        if done and await boards_equal(loop, database, crowd, {}):
            return round(time.time() - began, 2)
        await asyncio.sleep(CHECK_INTERVAL)
    return None


if __name__ == "__main__":
    main()
