"""`python -m benchmarks.units`: every unit, on servers of the run's own, printed and written to docs/scaling.md."""

import argparse
import json
import os
import sys
from typing import Any

import psycopg

from benchmarks import databases, machine
from harness import postgres, servers

DATABASE = "units"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.units")
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks enqueued, run and purged")
    parser.add_argument("--clients", type=int, default=500, help="kitchen boards connected to one daphne")
    parser.add_argument("--waiting", type=int, default=2000, help="wake-ups waiting on the Redis that is lost")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/scaling.md alone")
    options = parser.parse_args()
    result: dict[str, Any] = {"machine": machine.describe(), "command": command(options)}
    cluster = postgres.Cluster("shared_preload_libraries=pg_stat_statements").start()
    layer: Any = None
    try:
        url = create_database(cluster.url)
        result["postgresql"] = server_version(url)
        port = servers.free_port()
        os.environ.update(
            DJANGO_SETTINGS_MODULE="benchmarks.settings",
            DATABASE_URL=url,
            REDIS_URL=f"redis://127.0.0.1:{port}/0",
            REDIS_PREFIX="units",
            # Room for every wake-up of a backlog: a full channel's refused sends would be counted as the enqueue's.
            CHANNEL_CAPACITY="100000",
            LOG_LEVEL="warning",
        )
        from benchmarks.units import taskcost

        layer = taskcost.LayerRedis(port)
        databases.migrate({})
        result.update(measure(options, url, layer, cluster.postmaster()))
    finally:
        if layer is not None:
            layer.stop()
        cluster.stop()
    result["load_average_at_end"] = machine.load_average()
    json.dump(result, sys.stdout, indent=2, default=str)
    print()
    if not options.no_docs:
        from benchmarks.units import doc

        doc.write(result)


def measure(options: argparse.Namespace, url: str, layer: Any, postmaster: int) -> dict[str, Any]:
    import django

    django.setup()
    from benchmarks.units import boards, probes, taskcost

    probe = probes.Probe(url, [layer.port], postmaster)
    try:
        figures = {"tasks": taskcost.measure(options.tasks, probe)}
        taskcost.clear()
        figures["idle"] = taskcost.idle(probe)
        figures["lost_shard"] = taskcost.lost_shard(options.waiting, layer)
        taskcost.clear()
        figures["boards"] = boards.measure(options.clients, probe)
        figures["redis_capacity"] = probes.redis_capacity(layer.port)
    finally:
        probe.close()
    return figures


def create_database(server: str) -> str:
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    return server.rsplit("/", 1)[0] + f"/{DATABASE}"


def server_version(url: str) -> str:
    with psycopg.connect(url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"


def command(options: argparse.Namespace) -> str:
    flags = f"--tasks {options.tasks} --clients {options.clients} --waiting {options.waiting}"
    return f".venv/bin/python -m benchmarks.units {flags}"


if __name__ == "__main__":
    main()
