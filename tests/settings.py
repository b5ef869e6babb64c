"""Test settings: the project's, plus fixture tasks and their side-effect table, and short retry delays."""

import os
import tempfile

# Each pytest-xdist worker keys its Redis channels and cache apart, as pytest-django gives it a test database of its
# own: the tests flush the layer's keys between them. Processes the tests start inherit the worker's prefix.
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["REDIS_PREFIX"] = f"{os.environ.get('REDIS_PREFIX', 'scoopboard')}-{worker}"

from project.settings import *  # noqa: F403
from retry import conf as retry_conf

INSTALLED_APPS = [*INSTALLED_APPS, "tests.effects"]  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not shared-cache memory: worker threads write concurrently, and memory locks whole tables.
    DATABASES["default"]["TEST"]["NAME"] = os.path.join(tempfile.gettempdir(), f"scoopboard-test-{os.getpid()}.sqlite3")  # noqa: F405
# A second database for the tests that keep task rows apart (the retry backends' DATABASE option).
DATABASES["tasks"] = {  # noqa: F405
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": os.path.join(tempfile.gettempdir(), f"scoopboard-tasks-{os.getpid()}.sqlite3"),
    "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"scoopboard-test-tasks-{os.getpid()}.sqlite3")},
    "CONN_MAX_AGE": 0,
}
# Threads that outlive a test (a task past the shutdown grace) must not hold connections open.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Retries in a fraction of a second: the floor is lowered on purpose.
RETRY_MIN_DELAY = 0.05
RETRY_BASE_DELAY = 0.05
RETRY_MAX_DELAY = 0.5
RETRY_JITTER = 0.0
RETRY_HEARTBEAT_INTERVAL = 0.2

# The processes the fault tests start take their timings from the environment, which wins here as in production.
globals().update(retry_conf.from_environ(os.environ))
