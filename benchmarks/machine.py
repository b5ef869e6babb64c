"""The machine and the versions a run measured on."""

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "django",
    "channels",
    "channels-redis",
    "daphne",
    "redis",
    "psycopg",
    "celery",
    "kombu",
    "huey",
    "dramatiq",
    "procrastinate",
    "django-tasks-db",
    "websockets",
)


def describe() -> dict[str, object]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "postgresql": command_output(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"]),
        "redis": command_output(["redis-server", "--version"]).split(" v=")[-1].split()[0],
        "packages": {name: metadata.version(name) for name in PACKAGES},
        "load_average_at_start": load_average(),
    }


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def command_output(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
