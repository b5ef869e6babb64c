"""Counters read before and after a stretch of work: PostgreSQL's WAL position, row counts and sizes, statement
calls; Redis' calls per command; a process's CPU time. The differences, divided by the work done, are the units."""

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis

#: Clock ticks per second of /proc/<pid>/stat's CPU times.
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Snapshot:
    wal_bytes: int = 0
    statements: int = 0
    #: Per table: inserted, updated, of which HOT, and deleted rows; and its size with indexes and TOAST.
    rows: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    commands: dict[str, int] = field(default_factory=dict)
    #: CPU seconds used so far by each kind of process watched (workers, dispatcher, postgres, redis).
    cpu: dict[str, float] = field(default_factory=dict)
    at: float = 0.0


class Probe:
    """Reads the counters of one PostgreSQL database (on a cluster of the run's own) and of Redis servers."""

    def __init__(self, database_url: str, redis_ports: list[int], postmaster: int) -> None:
        self.postmaster = postmaster
        #: Processes whose CPU time the snapshots add up, by kind; set by whoever starts them.
        self.watched: dict[str, list[int]] = {}
        self.database = psycopg.connect(database_url, autocommit=True)
        self.redis = [redis.Redis(port=port) for port in redis_ports]
        self.database.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def close(self) -> None:
        self.database.close()
        for client in self.redis:
            client.close()

    def snapshot(self) -> Snapshot:
        from django.db import connections

        # A backend reports its row counts when it ends, or up to 10 s after it went idle: this thread's connection
        # ends here, and the other processes' counts get a moment to arrive.
        connections.close_all()
        time.sleep(1.2)
        self.database.execute("SELECT pg_stat_clear_snapshot()")
        wal = self.database.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
        calls = self.database.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
        tables = self.database.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, pg_total_relation_size(relid) "
            "FROM pg_stat_user_tables"
        ).fetchall()
        return Snapshot(
            wal_bytes=int(wal[0]) if wal else 0,
            statements=int(calls[0]) if calls else 0,
            rows={name: (ins, upd, hot, dele) for name, ins, upd, hot, dele, _ in tables},
            sizes={name: size for name, *_, size in tables},
            commands=self.commands(),
            cpu=self.cpu(),
            at=time.monotonic(),
        )

    def cpu(self) -> dict[str, float]:
        """CPU seconds of the watched processes, PostgreSQL's (the postmaster and its children) and Redis'."""
        used = {kind: sum(cpu_seconds(pid) for pid in pids) for kind, pids in self.watched.items()}
        used["postgres"] = sum(cpu_seconds(pid) for pid in [self.postmaster, *children(self.postmaster)])
        used["redis"] = sum(cpu_seconds(int(client.info("server")["process_id"])) for client in self.redis)
        return used

    def commands(self) -> dict[str, int]:
        """Calls per Redis command, summed over the servers."""
        total: dict[str, int] = {}
        for client in self.redis:
            stats: dict[str, Any] = client.info("commandstats")
            for name, values in stats.items():
                command = name.removeprefix("cmdstat_")
                total[command] = total.get(command, 0) + int(values["calls"])
        return total


def difference(before: Snapshot, after: Snapshot, per: int) -> dict[str, Any]:
    """What happened between two snapshots, per unit of work (``per`` units)."""
    commands = {
        name: calls - before.commands.get(name, 0)
        for name, calls in after.commands.items()
        if name != "info" and calls > before.commands.get(name, 0)
    }
    touched = {name for name in after.rows if after.rows[name] != before.rows.get(name)}
    rows = {
        name: [
            round((a - b) / per, 2) for a, b in zip(after.rows[name], before.rows.get(name, (0, 0, 0, 0)), strict=True)
        ]
        for name in sorted(touched)
    }
    return {
        "wal_bytes": round((after.wal_bytes - before.wal_bytes) / per),
        "statements": round((after.statements - before.statements) / per, 2),
        "rows_inserted_updated_hot_deleted": {name: counts for name, counts in rows.items() if any(counts)},
        "bytes_on_disk": {
            name: round((after.sizes[name] - before.sizes.get(name, 0)) / per)
            for name in sorted(touched)
            if after.sizes[name] != before.sizes.get(name, 0)
        },
        "redis_commands": round(sum(commands.values()) / per, 2),
        "redis_by_command": {name: round(calls / per, 2) for name, calls in sorted(commands.items())},
        "cpu_ms": {
            kind: round((used - before.cpu.get(kind, used)) * 1000 / per, 3)
            for kind, used in after.cpu.items()
            if kind in before.cpu
        },
        "seconds": round(after.at - before.at, 2),
    }


def children(parent: int) -> list[int]:
    """The processes whose parent is ``parent``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU time ``pid`` has used so far (0 once it has ended)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def redis_capacity(port: int, requests: int = 100_000) -> dict[str, float]:
    """Commands a second the Redis on ``port`` serves to 50 clients, one command each at a time (redis-benchmark's
    ZADD and ZPOPMIN, the layer's own commands), on this machine as loaded as it is."""
    argv = ["redis-benchmark", "-p", str(port), "-t", "zadd,zpopmin", "-n", str(requests), "-c", "50", "-q"]
    output = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300).stdout
    rates = {}
    for line in output.replace("\r", "\n").splitlines():
        name, _, rest = line.partition(":")
        if "requests per second" in rest:
            rates[name.strip().lower()] = float(rest.split()[0])
    return rates
