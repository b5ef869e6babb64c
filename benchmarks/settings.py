"""Benchmark settings: the project's, quiet logs, the raw Channels route, and the retry timings a run asks for."""

import os

os.environ.setdefault("LOG_LEVEL", "warning")

from project.settings import *  # noqa: F403

ASGI_APPLICATION = "benchmarks.asgi.application"
# Only the benchmark's own tasks run: no periodic clean-up task appears among them.
RETRY_PERIODIC: dict[str, dict[str, object]] = {}

# The retry-path benchmark shrinks the floor to 0.1 s and turns jitter off.
for _name in ("MIN_DELAY", "BASE_DELAY", "MAX_DELAY", "JITTER", "DISPATCH_INTERVAL"):
    if os.environ.get(f"RETRY_{_name}"):
        globals()[f"RETRY_{_name}"] = float(os.environ[f"RETRY_{_name}"])
