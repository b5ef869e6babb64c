"""The targets, met or missed within this run, and for each missed one the profile of where the time goes."""

from dataclasses import dataclass
from typing import Any

from benchmarks.markdown import table, times, verdict
from benchmarks.report_tasks import by_name, counts, latency, rate

#: Functions shown per profile: the top by self share, our own (OUR_CODE) and then any by inclusive share.
SELF_ROWS, OURS_ROWS, INCLUSIVE_ROWS = 12, 10, 5
#: How the names of our own functions end (benchmarks/profiling.py names each by its path in the repository).
OUR_CODE = tuple(f" ({package}/" for package in ("retry", "orders", "consumers", "project"))
#: A function holding more of the samples than this wraps everything (a thread's start, a loop): not shown.
WRAPPER = 0.995
#: What each profile of benchmarks/profiling.py samples.
PROFILED = {
    "drain_2": "one of our 2 workers during a drain of the whole backlog (its CPU)",
    "enqueue_in_view": "the benchmark's loop of order row + task transactions (waits included)",
    "enqueue_sync": "the benchmark's loop of enqueue calls (waits included)",
    "enqueue_bulk": "the benchmark's loop of bulk calls (waits included)",
    "latency": "one of our 2 workers during the latency figure (its CPU)",
    "fanout": "one of the 2 daphne processes during board fan-out rounds of the largest size (its CPU)",
}


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    met: bool | None
    #: The key of the profile in our results that shows where its time goes; None when this run takes none.
    profile: str | None = None


def targets(results: dict[str, Any]) -> list[Target]:
    ours, celery = by_name(results, "scoopboard"), by_name(results, "Celery (acks_late)")
    # A drain counts only with every task run exactly once.
    drain = rate(ours, "drain_2") if ours and counts(ours) == (0, 0) else None
    rows = [
        Target(f"drain, 2 workers ≥ {wanted}x {label}", *at_least(drain, rate(peer, "drain_2"), wanted), "drain_2")
        for wanted, label, peer in [
            (2, "Celery (acks_late)", celery),
            (4, "Procrastinate", by_name(results, "Procrastinate")),
            (4, "django-tasks-db", by_name(results, "django-tasks-db")),
        ]
    ]
    in_view = at_least(rate(ours, "enqueue_in_view"), rate(celery, "enqueue_in_view"), 1.5)
    name = "enqueue inside a view's transaction ≥ 1.5x Celery's row + delay() on commit"
    rows.append(Target(name, *in_view, "enqueue_in_view"))
    sync = at_least(rate(ours, "enqueue_sync"), rate(celery, "enqueue_sync"), 1)
    rows.append(Target("plain sync enqueue ≥ Celery's", *sync, "enqueue_sync"))
    bulk = rate(ours, "enqueue_bulk")
    met = None if bulk is None else bulk >= 20_000
    rows.append(Target("bulk enqueue ≥ 20,000 tasks/s", f"{bulk}/s", met, "enqueue_bulk"))
    p99, theirs = latency(ours, "p99_ms"), latency(celery, "p99_ms")
    met = None if p99 is None or theirs is None else p99 <= theirs
    rows.append(Target("latency p99 ≤ Celery's p99", f"{p99} vs {theirs} ms", met, "latency"))
    rows.append(dispatcher_target(results.get("full_channel")))
    rows.append(fanout_target(results.get("fanout")))
    return rows


def at_least(ours: float | None, theirs: float | None, wanted: float) -> tuple[str, bool | None]:
    """The cell "ours vs theirs (ratio)" and whether ours ≥ ``wanted`` x theirs."""
    if ours is None or theirs is None:
        return f"{ours} vs {theirs}", None
    return f"{ours} vs {theirs} ({times(ours, theirs)})", ours >= wanted * theirs


def dispatcher_target(full: dict[str, Any] | None) -> Target:
    """The pass behind a full channel at the most due rows measured against the pass at the fewest."""
    if not full or "error" in full:
        return Target("dispatcher pass at 100,000 due rows ≤ 2x the pass at 100", "-", None)
    passes = {size["due"]: size["pass_ms_median"] for size in full["sizes"]}
    most, fewest = max(passes), min(passes)
    name = f"dispatcher pass at {most:,} due rows ≤ 2x the pass at {fewest:,}"
    return Target(name, f"{passes[most]} vs {passes[fewest]} ms", passes[most] <= 2 * passes[fewest])


def fanout_figures(fanout: dict[str, Any]) -> tuple[int, float | None, float | None, int]:
    """Clients, p99 ms, KiB per connection (the daphne process taking the most) and lost deliveries of the largest
    fan-out measured."""
    largest = fanout["sizes"][-1]
    return int(largest["clients"]), largest.get("p99_ms"), largest.get("kib_per_connection"), largest.get("lost", 0)


def fanout_target(fanout: dict[str, Any] | None) -> Target:
    name = "board fan-out 5,000 clients p99 < 250 ms, ≤ 40 KiB per connection"
    if not fanout or "error" in fanout:
        return Target(name, "-", None)
    clients, p99, kib, lost = fanout_figures(fanout)
    met = None if p99 is None or kib is None else clients >= 5000 and p99 < 250 and kib <= 40 and not lost
    measured = f"{clients:,} clients over {fanout.get('daphnes', 1)} daphne: p99 {p99} ms, {kib} KiB each"
    return Target(name, measured + (f", {lost} never delivered" if lost else ""), met, "fanout")


def targets_table(results: dict[str, Any]) -> str:
    rows = [[target.name, target.measured, verdict(target.met)] for target in targets(results)]
    note = (
        "Ratios within this run (2 cores, durable PostgreSQL). A drain of ours counts only if it lost and "
        "duplicated nothing (the Tasks table's last columns)."
    )
    return "### Targets\n\n" + note + "\n\n" + table(["target", "measured", "met"], rows)


def where_the_time_goes(results: dict[str, Any]) -> str:
    """For each missed target, the top functions of its profile (targets sharing a profile share its table)."""
    profiles = dict(by_name(results, "scoopboard").get("profiles") or {})
    if (results.get("fanout") or {}).get("profile"):
        profiles["fanout"] = results["fanout"]["profile"]
    missed: dict[str | None, list[str]] = {}
    for target in targets(results):
        if target.met is False:
            missed.setdefault(target.profile, []).append(target.name)
    sections = []
    for key, names in missed.items():
        heading = "#### " + "; ".join(names)
        if key is None or key not in profiles:
            sections.append(f"{heading}\n\nNot profiled by this run (benchmarks/profiling.py).")
            continue
        profile = profiles[key]
        samples = f"{profile['samples']} samples"
        what = f"Profile: {PROFILED.get(key, key)}, `{profile['stacks']}` ({samples}); shares of its samples."
        sections.append(f"{heading}\n\n{what}\n\n{top_functions(profile)}")
    if not sections:
        return "### Where the time goes\n\nEvery target is met in this run."
    return "### Where the time goes (missed targets)\n\n" + "\n\n".join(sections)


def top_functions(profile: dict[str, Any]) -> str:
    """The functions holding the most samples themselves, and those (ours first) holding the most in all."""
    shown = [row for row in profile["top_self"][:SELF_ROWS] if row[2] > 0]
    ours = [row for row in profile["top"] if any(code in row[0] for code in OUR_CODE) and row[1] < WRAPPER]
    shown += [row for row in ours if row not in shown][:OURS_ROWS]
    calls = [row for row in profile["top"] if row[1] < WRAPPER and " (benchmarks/" not in row[0]]
    shown += [row for row in calls if row not in shown][:INCLUSIVE_ROWS]
    shown.sort(key=lambda row: row[1], reverse=True)
    rows = [[f"{inclusive:.1%}", f"{own:.1%}", f"`{name}`"] for name, inclusive, own in shown]
    return table(["inclusive", "self", "function (file)"], rows)
