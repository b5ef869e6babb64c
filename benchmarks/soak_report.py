"""The cluster soak's section of docs/benchmarks.md: its verdict, its exactly-once counts, its figures."""

from typing import Any

from benchmarks.markdown import table


def render(soak: dict[str, Any]) -> str:
    setup, once, numbers = soak["setup"], soak["exactly_once"], soak["figures"]
    verdict = "passed" if soak["verdict"]["passed"] else "**failed**: " + "; ".join(soak["verdict"]["failures"])
    processes = ", ".join(f"{count} {kind}" for kind, count in setup["processes"].items())
    note = (
        f"`benchmarks/soak.py`: {processes} (`benchmarks/cluster.py`, each with its Procfile command and "
        f"`project.settings`); {setup['seconds']:g} s of orders at {setup['rate']:g}/s through HAProxy, each with a "
        f"webhook to a receiver on 127.0.0.1 and its e-mails to an SMTP sink; {setup['kitchen_boards']} kitchen "
        f"boards and {setup['pickup_screens']} pickup screens in {setup['client_processes']} client processes, "
        f"{setup['staff']} staff claiming, finishing and handing over. Wall time {soak.get('wall_seconds', '?')} s. "
        f"Verdict: {verdict}."
    )
    counts = table(["count", "value"], [[name.replace("_", " "), value] for name, value in once.items()])
    faults = table(
        ["fault", "at s", "back after s", "every board equal to the database after s"],
        [[f["fault"], f["at"], f["restart_s"], f["equal_after_s"]] for f in soak["faults"]],
    )
    latency = numbers["order_to_board_ms"]
    rows = [["steady state", *summary(latency["steady"])]]
    rows += [[f"around: {name}", *summary(values)] for name, values in latency["around_faults"].items()]
    delays = table(["orders placed", "p50 ms", "p99 ms", "max ms", "pairs"], rows)
    reconnects = table(
        ["socket ended after", "reconnects", "p50 ms", "p99 ms", "max ms"],
        [[name, values["count"], *summary(values)[:3]] for name, values in numbers["reconnects"].items()],
    )
    figures = (
        f"{numbers['orders_per_second']} orders/s and {numbers['tasks_per_second']} tasks/s; answers to the POSTs: "
        f"{numbers['answers']}; every task, e-mail, webhook and board done {soak['settle_s']} s after the last order."
    )
    return "\n\n".join(
        [
            "### Cluster soak",
            note,
            counts,
            faults,
            figures,
            "Order to board (POST sent → first frame showing it, every kitchen board):",
            delays,
            "Reconnects (socket ended → next snapshot):",
            reconnects,
        ]
    )


def summary(values: dict[str, Any]) -> list[Any]:
    return [values.get("p50_ms"), values.get("p99_ms"), values.get("max_ms"), values.get("samples")]
