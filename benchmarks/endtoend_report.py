"""The end-to-end section of the run's report (benchmarks.endtoend's figures as Markdown)."""

from typing import Any

from benchmarks import markdown


def render(result: dict[str, Any]) -> str:
    posts, mails, task = result["posts"], result["email_at_smtp_server"], result["email_task_start"]
    rows = [
        ["POST /api/orders answered", posts["answer"]],
        ["event on a board (every board x order)", result["board_order_pairs"]],
        ["event on the order's last board", result["last_board_per_order"]],
        ["e-mail task started (attempt row `started_at`)", task],
        ["e-mail at the SMTP server", mails],
    ]
    header = ["from the POST to", "p50 ms", "p99 ms", "max ms", "samples"]
    cells = [[name, row["p50_ms"], row["p99_ms"], row["max_ms"], row["samples"]] for name, row in rows]
    return "### End to end\n\n" + note(result) + "\n\n" + markdown.table(header, cells) + "\n\n" + counts(result)


def note(result: dict[str, Any]) -> str:
    # The SMTP server's port changes from run to run.
    changed = ", ".join(f"{name}={value}" for name, value in result["settings_changed"].items() if name != "EMAIL_PORT")
    return (
        f"{result['orders']} orders POSTed at {result['rate']:g}/s (open loop, after {result['warm_up_orders']} "
        f"warm-up orders) while {result['boards']} kitchen boards are open, on one daphne, one `runworker` and one "
        f"`dispatcher` with the production settings (DEBUG=0, PostgreSQL, Redis layer) changed only by {changed}; "
        f"e-mail goes to a local aiosmtpd server. Load average before and after: {result['load_average_before']} → "
        f"{result['load_average_after']}."
    )


def counts(result: dict[str, Any]) -> str:
    posts, mails, task = result["posts"], result["email_at_smtp_server"], result["email_task_start"]
    cpu = ", ".join(f"{name} {share}" for name, share in result["cpu_percent_of_one_core"].items())
    ways = ", ".join(f"{how} {count}" for how, count in result["first_seen_by"].items())
    return (
        f"POST answers: {posts['statuses']} at {posts['per_second']}/s, sent late p99 {posts['send_late']['p99_ms']} "
        f"ms. Board x order pairs not seen within {result['settle_timeout_s']:g} s of the last answer: "
        f"{result['pairs_not_seen']} ({result['orders_not_on_every_board']} orders not on every board); first seen "
        f"by: {ways}; sockets closed by the server: {result['closed_by_server'] or 0}. E-mails: "
        f"{mails['exactly_once']} exactly once, {mails['missing']} missing, {mails['more_than_once']} more than once; "
        f"e-mail tasks {task['successful']}/{task['tasks']} successful, attempts {task['attempts']}. CPU, % of one "
        f"core, over the measured orders: {cpu}."
    )
