"""End to end, as a kitchen lives it: orders POSTed at a steady rate while kitchen boards are open.

The Procfile's processes run with the production settings: one daphne, one `manage.py runworker` (every queue)
and one `manage.py dispatcher`, on PostgreSQL and the Redis channel layer. E-mails go to an SMTP server on
127.0.0.1 (benchmarks.mail_sink); the orders carry no webhook URL. The boards run in processes of their own
(benchmarks.board_clients, which act as the kitchen page's script). Measured: when each board first shows each
order, when the order's confirmation e-mail task starts (its first attempt row's ``started_at``) and when the
e-mail reaches the SMTP server.
"""

import asyncio
import os
import tempfile
import time
import uuid
from typing import Any

from django.db import connection

from benchmarks import (
    board_crowd,
    endtoend_figures,
    fanning,
    machine,
    mail_sink,
    ordering,
    processes,
    retrying,
    systems,
)
from harness import servers
from harness.layers import flush_channel_layer

#: Boards one client process holds; more per process and the client, not the server, would set the pace.
BOARDS_PER_PROCESS = 250
#: Seconds of orders at the full rate before the measured ones: imports, first reads, connection pools.
WARM_UP_SECONDS = 2.0
#: Seconds after the last answer for every board and e-mail to catch up. A lost event is repaired by the board's
#: next resync (BOARD_RESYNC_INTERVAL, 15 s), so waiting stops only after longer than that without progress.
SETTLE_TIMEOUT = 90.0
STILL_FOR = 20.0
#: Seconds the e-mail tasks get to finish once the boards settled.
TASKS_TIMEOUT = 30.0
#: Seconds daphne and the worker may take to start on a busy machine.
START_TIMEOUT = 120.0
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def environment(smtp_port: int) -> dict[str, str]:
    """What the benchmark changes in the production settings of its processes."""
    return {
        "EMAIL_BACKEND": SMTP_BACKEND,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        # Every order comes from 127.0.0.1: at the default 20 per address and hour, all but 20 would be refused.
        # The limit per e-mail address stays at its default; each order has an address of its own.
        "ORDER_RATE_LIMIT_PER_ADDRESS": "1000000",
    }


def measure(boards: int, orders: int, rate: float) -> dict[str, Any]:
    reset()
    _, cookie = fanning.staff_session()
    controller, sink = mail_sink.start()
    changed = environment(controller.port)
    os.environ.update(changed)
    port = servers.free_port()
    started = [processes.daphne(port), processes.dispatcher(), processes.our_worker(0, channels=())]
    crowd = None
    try:
        servers.wait_until_listening(port, timeout=START_TIMEOUT)
        systems.wait_until(lambda: retrying.live_workers() >= 1, START_TIMEOUT, "the worker to start")
        with tempfile.TemporaryDirectory() as folder:
            crowd = board_crowd.Crowd(
                f"ws://127.0.0.1:{port}/ws/kitchen/",
                f"http://127.0.0.1:{port}",
                cookie,
                boards,
                max(1, -(-boards // BOARDS_PER_PROCESS)),
                folder,
            )
            result = run(port, crowd, sink, started, boards, orders, rate)
            crowd = None
    finally:
        if crowd is not None:
            crowd.kill()
        processes.stop(started)
        controller.stop()
    setup = {"boards": boards, "rate": rate, "settings_changed": changed}
    return setup | result


def run(
    port: int,
    crowd: board_crowd.Crowd,
    sink: mail_sink.Sink,
    started: list[Any],
    boards: int,
    orders: int,
    rate: float,
) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    warm = asyncio.run(ordering.place(port, round(WARM_UP_SECONDS * rate), rate, 0, run_id))
    settle(crowd, sink, boards, warm, warm)
    pids = {"daphne": started[0].pid, "dispatcher": started[1].pid, "worker": started[2].pid}
    pids |= {f"boards-{index}": child.pid for index, child in enumerate(crowd.children)}
    before, load_before = endtoend_figures.cpu(pids), machine.load_average()
    began = time.monotonic()
    placed = asyncio.run(ordering.place(port, orders, rate, len(warm), run_id))
    posted = time.monotonic() - began
    settled = settle(crowd, sink, boards, warm + placed, placed)
    usage = endtoend_figures.usage(before, endtoend_figures.cpu(pids), time.monotonic() - began)
    deadline = time.monotonic() + TASKS_TIMEOUT  # the figures count the tasks that are not finished by then
    while unfinished_email_tasks() and time.monotonic() < deadline:
        time.sleep(0.2)
    return {
        "warm_up_orders": len(warm),
        "seconds_of_posts": round(posted, 2),
        "seconds_to_settle": round(settled, 2),
        "settle_timeout_s": SETTLE_TIMEOUT,
        "load_average_before": load_before,
        "load_average_after": machine.load_average(),
        "cpu_percent_of_one_core": usage,
        **endtoend_figures.summarise(placed, crowd.stop(), sink.taken(), sink.strangers),
    }


def settle(
    crowd: board_crowd.Crowd,
    sink: mail_sink.Sink,
    boards: int,
    everything: list[ordering.Placed],
    new: list[ordering.Placed],
) -> float:
    """Wait until every board has every order and every new order's e-mail came; the seconds waited."""
    expected = boards * sum(1 for placed in everything if placed.order_id is not None)
    mails = {placed.order_id for placed in new if placed.order_id is not None}
    began = moved = time.monotonic()
    last: tuple[float, int] = (-1, -1)
    while time.monotonic() - began < SETTLE_TIMEOUT and time.monotonic() - moved < STILL_FOR:
        now = (crowd.status()["pairs"], len(mails & {order for order, _, _ in sink.taken()}))
        if now[0] >= expected and now[1] >= len(mails):
            break
        if now != last:
            last, moved = now, time.monotonic()
        time.sleep(0.5)
    return time.monotonic() - began


def unfinished_email_tasks() -> int:
    from retry.models import TaskRecord

    unfinished = TaskRecord.objects.filter(task_path=endtoend_figures.EMAIL_TASK, finished_at__isnull=True)
    return unfinished.count()


def reset() -> None:
    """No orders, no tasks, an empty channel layer and no rate-limit counters (they share its prefix)."""
    from orders.models import Order

    systems.clear_tables()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Order._meta.db_table} CASCADE")
    flush_channel_layer()
