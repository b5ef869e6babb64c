"""Benchmark settings: the project's, quiet logs, the raw Channels route, the retry timings a run asks for, and on
PostgreSQL the durable peers' Django apps (benchmarks/peers/)."""

import os
from importlib.util import find_spec

os.environ.setdefault("LOG_LEVEL", "warning")

from project.settings import *  # noqa: F403

ASGI_APPLICATION = "benchmarks.asgi.application"
# Only the benchmark's own tasks run: no periodic clean-up task appears among them.
RETRY_PERIODIC: dict[str, dict[str, object]] = {}

# Django's task signals log each task's enqueue, start and end at INFO on "django.tasks" (ours and
# django-tasks-db alike); they follow LOG_LEVEL here, as quiet as every peer's worker is.
LOGGING["loggers"]["django.tasks"] = {"level": LOG_LEVEL}  # type: ignore[index]  # noqa: F405

# The retry-path benchmark shrinks the floor to 0.1 s and turns jitter off.
for _name in ("MIN_DELAY", "BASE_DELAY", "MAX_DELAY", "JITTER", "DISPATCH_INTERVAL"):
    if os.environ.get(f"RETRY_{_name}"):
        globals()[f"RETRY_{_name}"] = float(os.environ[f"RETRY_{_name}"])

# Procrastinate and django-tasks-db keep their tasks in the benchmark's PostgreSQL database, beside ours; their
# schemas are PostgreSQL's (Procrastinate's) or not wanted on the embedded SQLite run.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and find_spec("procrastinate"):  # noqa: F405
    INSTALLED_APPS = [*INSTALLED_APPS, "procrastinate.contrib.django", "django_tasks_db"]  # noqa: F405
    TASKS = {**TASKS, "tasks_db": {"BACKEND": "django_tasks_db.backend.DatabaseBackend", "QUEUES": ["default"]}}  # noqa: F405
    # Only the benchmark's task module: autodiscovery would import every app's tasks.py.
    PROCRASTINATE_AUTODISCOVER_MODULE_NAME = ""
    PROCRASTINATE_IMPORT_PATHS = ["benchmarks.peers.procrastinate_tasks"]
