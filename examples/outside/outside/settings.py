"""A project of its own that uses the retry layer as an installed package: SQLite and the in-memory layer with
everything in one process (`manage.py serve`), or PostgreSQL and Redis with DATABASE_URL and REDIS_URL set
(daphne, `runworker` and `dispatcher` as processes of their own)."""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("SECRET_KEY", "outside-example-development-key-0123456789-abcdefghijklmnopqrstuvwxyz")
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "retry",
    "channels",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "outside.urls"
ASGI_APPLICATION = "outside.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
STATIC_URL = "static/"
USE_TZ = True

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
if DATABASE_URL:
    url = urlsplit(DATABASE_URL)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": url.path.lstrip("/"),
            "USER": unquote(url.username or ""),
            "PASSWORD": unquote(url.password or ""),
            "HOST": url.hostname or "",
            "PORT": str(url.port or ""),
        }
    }
else:
    # Writers wait for each other instead of failing with "database is locked"; readers go on under WAL.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ.get("REDIS_PREFIX", "outside")},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Django's Tasks API, with the retry layer as its backend.
TASKS = {"default": {"BACKEND": "retry.backend.RetryBackend", "QUEUES": ["default"]}}
# Without Redis, `manage.py serve` runs the task workers and the dispatcher in the web process.
RETRY_EMBEDDED = not REDIS_URL
# Retries a second apart, so the example shows a retry and a dead letter quickly.
RETRY_MIN_DELAY = 1.0
RETRY_BASE_DELAY = 1.0
RETRY_JITTER = 0.0

# The retry layer's log lines, with their fields as key=value pairs.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"fields": {"()": "retry.logs.KeyValueFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "fields"}},
    "loggers": {"retry": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
