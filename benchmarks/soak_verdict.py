"""What the soak (benchmarks.soak) reads from the database, and its verdict: exactly once, boards equal, figures."""

import argparse
import time
from collections import Counter
from typing import Any

from django.db import DatabaseError, connection

from benchmarks import figures

#: Seconds around a fault whose orders count as placed "around" it: from just before it to its recovery.
AROUND = (-2.0, 8.0)


def database_state(touched: dict[int, float], grace: float) -> dict[str, Any] | None:
    """What every board should show: the kitchen's open orders and their steps, the pickup screen's columns; and
    the orders that changed within ``grace`` seconds (placed, or acted on by the staff). None: no database now."""
    from consumers.cards import PICKUP_COLUMNS, open_orders

    try:
        orders = list(open_orders())
    except DatabaseError:
        connection.close()  # a restart ended the connection: the next call opens another
        return None
    now = time.time()
    recent = {order_id for order_id, at in touched.items() if now - at < grace}
    recent |= {order.pk for order in orders if now - order.created_at.timestamp() < grace}
    numbers = {order.pk: order.number for order in orders}
    return {
        "kitchen": {str(o.pk): [o.status, [step.status for step in o.steps.all()]] for o in orders},
        "pickup": {str(o.number): PICKUP_COLUMNS[o.status] for o in orders},
        "recent_kitchen": [str(order_id) for order_id in recent],
        # An order acted on may have left the board: its number is not known from the open orders any more.
        "recent_pickup": [str(numbers[order_id]) for order_id in recent if order_id in numbers],
    }


def work_done(webhooks: dict[str, int]) -> bool:
    """Every task finished and every webhook delivery in at the receiver."""
    from orders.models import WebhookDelivery
    from retry.models import TaskRecord

    try:
        if TaskRecord.objects.filter(finished_at__isnull=True).exists():
            return False
        events = {f"evt_{event.hex}" for event in WebhookDelivery.objects.values_list("event_id", flat=True)}
    except DatabaseError:
        connection.close()
        return False
    return events <= set(webhooks)


def judge(
    options: argparse.Namespace,
    driven: dict[str, Any],
    boards: list[dict[str, Any]],
    mails: list[tuple[int, str, float]],
    webhooks: dict[str, int],
    soak: Any,
) -> dict[str, Any]:
    from orders.models import WebhookDelivery
    from retry.models import TaskAttempt, TaskRecord

    connection.close()  # this thread's connection did not live through the restart
    placed = driven.pop("placed")
    began = driven["began"]
    tasks = TaskRecord.objects.all()
    succeeded = Counter(TaskAttempt.objects.filter(outcome="SUCCEEDED").values_list("task_id", flat=True).iterator())
    mail_counts, exactly_once_examples = emails_once(
        set(sent_emails()), Counter((order, kind) for order, kind, _ in mails), set(emails_of_lost_commits())
    )
    events = [f"evt_{event.hex}" for event in WebhookDelivery.objects.values_list("event_id", flat=True)]
    exactly_once = {
        "tasks": tasks.count(),
        "tasks_not_successful": tasks.exclude(status="SUCCESSFUL").count(),
        "tasks_without_one_successful_attempt": sum(
            1 for pk in tasks.values_list("pk", flat=True) if succeeded[pk] != 1
        ),
        **mail_counts,
        "webhooks_expected": len(events),
        "webhooks_missing": sum(1 for event in events if webhooks.get(event, 0) == 0),
        "webhooks_duplicated": sum(count - 1 for count in webhooks.values() if count > 1),
    }
    answered = [post for post in placed if post.order_id is not None]
    statuses = Counter(str(post.status or post.error) for post in placed)
    latency = order_to_board(answered, boards, driven["faults"], began)
    reconnects = reconnect_times(boards, driven["faults"], began)
    faults_equal = all(fault["equal_after_s"] is not None for fault in driven["faults"])
    totals = ("tasks", "emails_expected", "emails_of_lost_commits_expected", "webhooks_expected")
    failures = [name for name, count in exactly_once.items() if name not in totals and count]
    failures += [] if faults_equal else ["a board not equal to the database within the bound after a fault"]
    failures += [] if driven["settle_s"] is not None else ["the work was not done after the orders stopped"]
    seconds = driven["seconds_of_orders"]
    return {
        "setup": {
            "seconds": options.seconds,
            "rate": options.rate,
            "kitchen_boards": options.kitchens,
            "pickup_screens": options.pickups,
            "staff": options.staff,
            "client_processes": options.client_processes,
            "equal_within_s": options.equal_within,
            "processes": {kind: len(group) for kind, group in soak.processes.items()},
        },
        "verdict": {"passed": not failures, "failures": failures},
        "exactly_once": exactly_once,
        "exactly_once_examples": exactly_once_examples,
        "figures": {
            "orders_posted": len(placed),
            "answers": dict(statuses),
            "orders_per_second": figures.rate(len(answered), seconds),
            "tasks_per_second": figures.rate(exactly_once["tasks"], seconds + (driven["settle_s"] or 0)),
            "order_to_board_ms": latency,
            "reconnects": reconnects,
        },
        **driven,
    }


def sent_emails() -> list[tuple[int, str]]:
    """Each (order, kind) whose e-mail went out by the database: its marker is set in the transaction that sends.

    Not every e-mail task sends (a "ready" e-mail of an order handed over meanwhile is not due any more), and the
    attempt that sent may not be the one that succeeded (a worker killed after the commit: the next finds it sent).
    """
    from orders.emails import MARKERS
    from orders.models import Order

    sent = []
    for kind, marker in MARKERS.items():
        sent += [(pk, kind) for pk in Order.objects.filter(**{f"{marker}__isnull": False}).values_list("pk", flat=True)]
    return sent


def emails_once(
    recorded: set[tuple[int, str]], got: Counter[tuple[int, str]], lost: set[tuple[int, str]]
) -> tuple[dict[str, int], dict[str, list[tuple[int, str]]]]:
    """The e-mail counts of the verdict, and examples of what failed, from the (order, kind) pairs the database
    records as sent, those the SMTP sink got (with how many copies) and those of lost commits.

    An e-mail of a lost commit went out once without its marker (the retry found it no longer due) or twice (the
    retry sent it again): at least once, as orders.emails says; neither is a failure.
    """
    unrecorded = {key for key in lost if key in got and key not in recorded}
    expected = recorded | unrecorded
    counts = {
        "emails_expected": len(expected),
        "emails_of_lost_commits_expected": len(unrecorded) + sum(got[key] - 1 for key in lost if got[key] > 1),
        "emails_missing": sum(1 for key in expected if got[key] == 0),
        "emails_duplicated": sum(count - 1 for key, count in got.items() if count > 1 and key not in lost),
        "emails_unexpected": sum(1 for key in got if key not in expected),
    }
    examples = {
        "emails_missing": [key for key in expected if got[key] == 0][:10],
        "emails_unexpected": [key for key in got if key not in expected][:10],
    }
    return counts, examples


#: What a Django database call raises when the server went away under it.
DATABASE_GONE = ("django.db.utils.OperationalError", "django.db.utils.InterfaceError")


def emails_of_lost_commits() -> list[tuple[int, str]]:
    """Each (order, kind) of an e-mail task attempt that the database's going away ended (a restart): its commit,
    which sets the e-mail's marker, may have been lost after the SMTP server took the message (orders.emails says
    so: at least once). When the retry finds the e-mail no longer due (the order was handed over meanwhile), the
    marker stays unset although the e-mail went out."""
    from retry.models import TaskAttempt

    attempts = TaskAttempt.objects.filter(
        task__task_path="orders.tasks.send_order_email", error_class__in=DATABASE_GONE
    ).values_list("task__kwargs", flat=True)
    return [(kwargs["order_id"], kwargs["kind"]) for kwargs in attempts]


def order_to_board(
    answered: list[Any], boards: list[dict[str, Any]], faults: list[dict[str, Any]], began: float
) -> dict[str, Any]:
    """From each POST to the first frame showing its order, on every kitchen board: steady state and near faults."""
    sent = {str(post.order_id): post.sent for post in answered}
    steady: list[float] = []
    near: dict[str, list[float]] = {fault["fault"]: [] for fault in faults}
    for board in boards:
        for order_id, seen in board["first"].items():
            if order_id not in sent:
                continue
            delay, moment = seen - sent[order_id], sent[order_id] - began
            fault = next((f for f in faults if AROUND[0] <= moment - f["at"] <= AROUND[1]), None)
            (near[fault["fault"]] if fault else steady).append(delay)
    return {
        "steady": figures.summary_ms(steady) if steady else {},
        "around_faults": {name: figures.summary_ms(values) for name, values in near.items() if values},
    }


def reconnect_times(boards: list[dict[str, Any]], faults: list[dict[str, Any]], began: float) -> dict[str, Any]:
    """Seconds from a socket's end to the board's next snapshot, by the fault just before the socket ended."""
    by_fault: dict[str, list[float]] = {}
    for board in boards:
        for ended, seconds in board["reconnects"]:
            moment = ended - began
            fault = next((f for f in reversed(faults) if 0 <= moment - f["at"] <= AROUND[1]), None)
            by_fault.setdefault(fault["fault"] if fault else "none", []).append(seconds)
    return {name: {"count": len(values), **figures.summary_ms(values)} for name, values in by_fault.items()}


def summary(result: dict[str, Any]) -> str:
    verdict, once, numbers = result["verdict"], result["exactly_once"], result["figures"]
    lines = [
        f"soak: {'PASSED' if verdict['passed'] else 'FAILED'} {verdict['failures'] or ''}",
        f"exactly once: {once}",
        f"orders/s {numbers['orders_per_second']}, tasks/s {numbers['tasks_per_second']}, answers {numbers['answers']}",
        f"order to board: {numbers['order_to_board_ms']}",
        f"reconnects: {numbers['reconnects']}",
    ]
    lines += [f"  {fault}" for fault in result["faults"]]
    lines.append(f"settled after the orders in {result['settle_s']} s")
    return "\n".join(lines)
