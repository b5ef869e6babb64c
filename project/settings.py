"""Scoopboard settings, read from the environment with laptop-safe defaults (see README: Configuration)."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from project import env, sentinel
from retry import conf as retry_conf

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env.read_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode-0123456789abcdefghijklmnop"

ALLOWED_HOSTS = env.read_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.read_list("CSRF_TRUSTED_ORIGINS", [])
for origin in CSRF_TRUSTED_ORIGINS:
    if not origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"CSRF_TRUSTED_ORIGINS has {origin!r}: each origin starts with http:// or https://.")

INSTALLED_APPS = [
    "daphne",
    "project",
    "retry",
    "orders",
    "consumers",
    "channels",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "project.unavailable.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# Database: DATABASE_URL, or a SQLite file beside the code.
try:
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
            conn_max_age=env.read_int("CONN_MAX_AGE", 600),
            conn_health_checks=True,
        )
    }
except ValueError as error:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {error}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for each other instead of failing with "database is locked".
    # WAL lets readers go on while one writer writes.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif env.read_bool("DATABASE_POOL", False):
    # Under ASGI each request runs its sync code in a thread of its own, and a connection kept for its thread
    # (CONN_MAX_AGE) stays open after the request, one per request: the web process (project.asgi) takes its
    # connections from a pool of at most DATABASE_POOL_SIZE instead, given back at the end of each request.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "pool": {"min_size": 1, "max_size": env.read_int("DATABASE_POOL_SIZE", 10, minimum=1), "timeout": 5},
    }
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer: in-memory in one process, or Redis. REDIS_URL names the servers (comma-separated URLs shard the
# layer); or REDIS_SENTINELS names sentinels that tell which server is now the master of each REDIS_SENTINEL_MASTER
# (one master set per shard), so the layer follows a failover. project.checks reports what does not fit together.
REDIS_URLS = env.read_redis_urls("REDIS_URL")
REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "scoopboard")
CHANNEL_EXPIRY = env.read_int("CHANNEL_EXPIRY", 60, minimum=1)
# redis-py's socket timeout must outlast channels-redis' 5 s blocking pop,
# or an idle worker dies with TimeoutError and drops what it had pulled.
_redis_connection = {"socket_timeout": 30, "socket_connect_timeout": 5, "health_check_interval": 10}
_sentinels = sentinel.read()
if _sentinels:
    _redis_hosts = sentinel.layer_hosts(_sentinels, _redis_connection)
else:
    _redis_hosts = [{"address": url, **_redis_connection} for url in REDIS_URLS]
if _redis_hosts:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": _redis_hosts,
                "prefix": REDIS_PREFIX,
                "expiry": CHANNEL_EXPIRY,
                "capacity": env.read_int("CHANNEL_CAPACITY", 1000, minimum=1),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"expiry": CHANNEL_EXPIRY, "capacity": env.read_int("CHANNEL_CAPACITY", 1000, minimum=1)},
        }
    }

# Tasks: Django's Tasks API, stored and retried by the retry app.
TASK_QUEUES = ["default", "emails", "webhooks", "maintenance"]
TASKS = {
    "default": {
        "BACKEND": "retry.backend.RetryBackend",
        "QUEUES": TASK_QUEUES,
    }
}
# In the embedded default the web process also runs the task workers and the dispatcher.
RETRY_EMBEDDED = not _redis_hosts
RETRY_MESSAGE_EXPIRY = float(CHANNEL_EXPIRY)
# The task dashboard's live feed, beside the boards' sockets (consumers.routing serves it).
RETRY_FEED_PATH = "ws/dashboard/"
# Every retry setting can come from the environment too: RETRY_LEASE=30, RETRY_EMBEDDED=0, ...
globals().update(retry_conf.from_environ(os.environ))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Security for production (DEBUG=0); `manage.py check --deploy` is clean with these.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.read_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.read_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_CONTENT_TYPE_NOSNIFF = True

# Headers of the web side (README: Production and scale-out). Every page keeps its scripts and styles in files,
# so the policy allows no inline code; sockets and fetches go to this site only.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# HSTS for every subdomain, and the request to be preloaded by browsers (sent only with DEBUG off).
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.read_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env.read_bool("SECURE_HSTS_PRELOAD", True)
# A load balancer's probe of /healthz speaks plain HTTP: it is never redirected to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOG_LEVEL = env.read_choice("LOG_LEVEL", "info", {"debug", "info", "warning", "error"}).upper()
LOG_FORMAT = env.read_choice("LOG_FORMAT", "text", {"text", "json"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"()": "retry.logs.KeyValueFormatter"},
        "json": {"()": "retry.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "retry": {"level": LOG_LEVEL},
        "orders": {"level": LOG_LEVEL},
        "consumers": {"level": LOG_LEVEL},
        "django": {"level": "INFO"},
        # Django's line per task start and end ("Task id=… state=…"), beside retry.tasks' own.
        "django.tasks": {"level": LOG_LEVEL},
    },
}

# Monitoring: /metrics answers a staff session, or this bearer token when set.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(dsn=SENTRY_DSN, integrations=[DjangoIntegration()], send_default_pii=False)

# E-mail: one mailer, read from the EMAIL_* variables; with DEBUG on, the console backend prints messages.
_email_backend = os.environ.get(
    "EMAIL_BACKEND", f"django.core.mail.backends.{'console' if DEBUG else 'smtp'}.EmailBackend"
)
_smtp_options = {
    "host": os.environ.get("EMAIL_HOST", "localhost"),
    "port": env.read_int("EMAIL_PORT", 25, minimum=1),
    "username": os.environ.get("EMAIL_HOST_USER", ""),
    "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
    "use_tls": env.read_bool("EMAIL_USE_TLS", False),
    # Bounds how long an e-mail task holds its order's row while the SMTP server answers.
    "timeout": env.read_int("EMAIL_TIMEOUT", 10, minimum=1),
}
MAILERS = {
    "default": {
        "BACKEND": _email_backend,
        "OPTIONS": _smtp_options if _email_backend.endswith("smtp.EmailBackend") else {},
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Scoopboard <cakes@localhost>")

# Customer webhooks. Without secrets (DEBUG off), deliveries fail with a clear error on their row.
WEBHOOK_SECRETS = env.read_list("WEBHOOK_SECRETS", [])
if not WEBHOOK_SECRETS and DEBUG:
    WEBHOOK_SECRETS = ["insecure-development-webhook-secret"]
WEBHOOK_ALLOWED_PORTS = env.read_ports("WEBHOOK_ALLOWED_PORTS", [80, 443, 8080, 8443])
WEBHOOK_ALLOWED_NETWORKS = env.read_list("WEBHOOK_ALLOWED_NETWORKS", [])
WEBHOOK_TIMEOUT = env.read_int("WEBHOOK_TIMEOUT", 10, minimum=1)
WEBHOOK_MAX_RESPONSE_BYTES = env.read_int("WEBHOOK_MAX_RESPONSE_BYTES", 64 * 1024, minimum=1)
WEBHOOK_MAX_RETRY_AFTER = env.read_int("WEBHOOK_MAX_RETRY_AFTER", 3600, minimum=1)
WEBHOOK_DELIVERY_RETENTION = env.read_int("WEBHOOK_DELIVERY_RETENTION", 30, minimum=1)

# Public order form and API (README: The order API): orders one client address and one e-mail address may place
# in each window, counted in Django's cache: in Redis, shared by every web process, when REDIS_URL is set.
ORDER_RATE_LIMIT_PER_ADDRESS = env.read_int("ORDER_RATE_LIMIT_PER_ADDRESS", 20, minimum=1)
ORDER_RATE_LIMIT_PER_EMAIL = env.read_int("ORDER_RATE_LIMIT_PER_EMAIL", 5, minimum=1)
ORDER_RATE_LIMIT_WINDOW = env.read_int("ORDER_RATE_LIMIT_WINDOW", 3600, minimum=1)
# Under Sentinel the counters live on the first shard's master, found through the sentinels as the layer finds it.
if _sentinels:
    CACHES = {"default": sentinel.cache(_sentinels, REDIS_PREFIX, {"socket_connect_timeout": 5})}
elif REDIS_URLS:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URLS[0],
            "KEY_PREFIX": REDIS_PREFIX,
        }
    }

# Maintenance, scheduled by the dispatcher: old and orphaned webhook delivery rows (unless RETRY_PERIODIC in the
# environment says otherwise). Old task rows and stale heartbeats the dispatcher removes by itself.
globals().setdefault("RETRY_PERIODIC", {"clean-up": {"task": "orders.tasks.clean_up", "every": 3600}})

# Live boards (checked by consumers.checks): the messages a client may send at once (burst)
# and per second after it; bytes a client may leave unread before pushes wait for it, and seconds it may stay so
# before it is dropped; seconds between two resyncs of a board with the database.
BOARD_RATE_LIMIT = (10, 5.0)
BOARD_SEND_BUFFER = env.read_int("BOARD_SEND_BUFFER", 1024 * 1024, minimum=4096)
BOARD_SLOW_GRACE = float(env.read_int("BOARD_SLOW_GRACE", 5, minimum=1))
BOARD_RESYNC_INTERVAL = 15.0
