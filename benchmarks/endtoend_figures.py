"""The end-to-end figures from what the POSTs, the boards, the SMTP server and the task rows recorded."""

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from benchmarks import figures
from benchmarks.ordering import Placed
from benchmarks.units import probes

EMAIL_TASK = "orders.tasks.send_order_email"
#: The board's event for a new order; any other first sighting means that event came late or not at all.
PLACED = "placed"


def summarise(
    placed: list[Placed], crowd: list[dict[str, Any]], mails: list[tuple[int, str, float]], strangers: int
) -> dict[str, Any]:
    sent = {post.order_id: post.sent for post in placed if post.order_id is not None}
    boards = [board for process in crowd for board in process["boards"]]
    return {
        "orders": len(placed),
        "posts": posts(placed),
        **on_boards(sent, boards),
        "client_cpu_seconds": [round(process["cpu_seconds"], 1) for process in crowd],
        "email_task_start": email_task_starts(sent),
        "email_at_smtp_server": emails(sent, mails, strangers),
    }


def posts(placed: list[Placed]) -> dict[str, Any]:
    statuses = Counter(str(post.status or post.error) for post in placed)
    span = placed[-1].sent - placed[0].sent if len(placed) > 1 else 0.0
    return {
        "statuses": dict(statuses),
        "per_second": figures.rate(len(placed) - 1, span),
        "answer": figures.summary_ms([post.seconds for post in placed if post.seconds is not None]),
        "send_late": figures.summary_ms([post.lag for post in placed]),
    }


def on_boards(sent: dict[int, float], boards: list[dict[str, Any]]) -> dict[str, Any]:
    """Every board x order delay, each order's slowest board, the pairs never seen, and how the order came."""
    firsts = [{order: (stamp, how) for order, stamp, how in board["first"]} for board in boards]
    pairs: list[float] = []
    last_board: list[float] = []
    ways: Counter[str] = Counter()
    lost = 0
    for order, moment in sent.items():
        seen = [first[order] for first in firsts if order in first]
        lost += len(firsts) - len(seen)
        ways.update(how for _, how in seen)
        delays = [stamp - moment for stamp, _ in seen]
        pairs += delays
        if delays and len(seen) == len(firsts):
            last_board.append(max(delays))
    return {
        "board_order_pairs": figures.summary_ms(pairs),
        "last_board_per_order": figures.summary_ms(last_board),
        "pairs_not_seen": lost,
        "orders_not_on_every_board": len(sent) - len(last_board),
        "first_seen_by": dict(ways.most_common()),
        "pairs_not_by_placed_event": sum(count for how, count in ways.items() if how != PLACED),
        "closed_by_server": dict(Counter(str(code) for board in boards for code in board["closes"])),
        "snapshots_asked_at_gaps": sum(board["snapshots_asked"] for board in boards),
        "frames_per_board_median": figures.percentile([board["frames"] for board in boards], 0.5),
        "mib_per_board": round(sum(board["bytes"] for board in boards) / len(boards) / 2**20, 2) if boards else 0,
    }


def email_task_starts(sent: dict[int, float]) -> dict[str, Any]:
    """From the POST to the start of the first attempt of the order's "received" e-mail task (its attempt row)."""
    from retry.models import TaskAttempt, TaskRecord

    tasks = TaskRecord.objects.filter(task_path=EMAIL_TASK, kwargs__order_id__in=list(sent))
    starts = TaskAttempt.objects.filter(task__in=tasks, number=1).values_list("task__kwargs", "started_at")
    delays = [started.timestamp() - sent[kwargs["order_id"]] for kwargs, started in starts]
    attempts = Counter(tasks.values_list("attempts", flat=True))
    return {
        **figures.summary_ms(delays),
        "tasks": tasks.count(),
        "successful": tasks.filter(status="SUCCESSFUL").count(),
        "attempts": {str(count): number for count, number in sorted(attempts.items())},
    }


def emails(sent: dict[int, float], mails: list[tuple[int, str, float]], strangers: int) -> dict[str, Any]:
    """From the POST to the "received" e-mail's arrival at the SMTP server; how many orders got it exactly once."""
    arrivals: dict[int, list[float]] = defaultdict(list)
    for order, kind, stamp in mails:
        if kind == "received" and order in sent:
            arrivals[order].append(stamp)
    counts = Counter(len(arrivals.get(order, [])) for order in sent)
    return {
        **figures.summary_ms([min(stamps) - sent[order] for order, stamps in arrivals.items()]),
        "exactly_once": counts.get(1, 0),
        "missing": counts.get(0, 0),
        "more_than_once": sum(number for count, number in counts.items() if count > 1),
        "other_messages": strangers + sum(1 for _, kind, _ in mails if kind != "received"),
    }


def cpu(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) of each process so far, and of the whole machine under "machine"."""
    used = {name: probes.cpu_seconds(pid) for name, pid in pids.items()}
    total = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    used["machine"] = (sum(total) - total[3] - total[4]) / probes.TICKS  # all but idle and iowait
    return used


def usage(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Each process's CPU over ``seconds`` as a share of one core (the machine's too: 200 is two cores busy)."""
    return {name: round(100 * (after[name] - before[name]) / seconds, 1) for name in before}
