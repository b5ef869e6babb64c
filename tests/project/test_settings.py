"""Each environment variable read by project/settings.py, and a clear start-up error for each bad value: the
database, the channel layer, e-mail and webhooks, the order rate limits, the boards, logging and security."""

import pytest

from tests.project.conftest import BASE_DIR, load_settings, settings_error

SECRET = "a-long-random-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
PRODUCTION = {"DEBUG": "0", "SECRET_KEY": SECRET}


def test_defaults_suit_a_laptop() -> None:
    loaded = load_settings(["DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DATABASES", "CHANNEL_LAYERS"])
    assert loaded["DEBUG"] is True
    assert loaded["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]
    assert loaded["CSRF_TRUSTED_ORIGINS"] == []
    database = loaded["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(BASE_DIR / "db.sqlite3")
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert loaded["CHANNEL_LAYERS"]["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"


@pytest.mark.parametrize(
    ("raw", "value"), [("1", True), ("true", True), ("Yes", True), (" on ", True), ("0", False), ("off", False)]
)
def test_debug_reads_booleans(raw: str, value: bool) -> None:
    assert load_settings(["DEBUG"], DEBUG=raw, SECRET_KEY=SECRET)["DEBUG"] is value


def test_debug_refuses_other_words() -> None:
    assert settings_error(DEBUG="maybe") == (
        "django.core.exceptions.ImproperlyConfigured: DEBUG='maybe' is not a boolean: "
        "use 1/0, true/false, yes/no or on/off."
    )


def test_secret_key_is_used_when_set() -> None:
    assert load_settings(["SECRET_KEY"], **PRODUCTION)["SECRET_KEY"] == SECRET


def test_secret_key_has_a_development_default_only_in_debug() -> None:
    assert load_settings(["SECRET_KEY"])["SECRET_KEY"].startswith("insecure-development-key")
    assert settings_error(DEBUG="0").endswith("SECRET_KEY must be set when DEBUG is off.")


def test_database_url_selects_postgresql() -> None:
    database = load_settings(["DATABASES"], DATABASE_URL="postgres://cake:pw@db.internal:5433/scoop")["DATABASES"]
    default = database["default"]
    assert default["ENGINE"] == "django.db.backends.postgresql"
    assert (default["NAME"], default["USER"], default["HOST"], default["PORT"]) == (
        "scoop",
        "cake",
        "db.internal",
        5433,
    )
    assert default["CONN_MAX_AGE"] == 600
    assert default["CONN_HEALTH_CHECKS"] is True
    assert "OPTIONS" not in default or "transaction_mode" not in default["OPTIONS"]


def test_database_url_sqlite_file_waits_for_writers() -> None:
    default = load_settings(["DATABASES"], DATABASE_URL="sqlite:////tmp/cakes.sqlite3")["DATABASES"]["default"]
    assert default["NAME"] == "/tmp/cakes.sqlite3"
    assert (default["OPTIONS"]["transaction_mode"], default["OPTIONS"]["timeout"]) == ("IMMEDIATE", 20)
    assert default["CONN_MAX_AGE"] == 0


@pytest.mark.parametrize("url", ["nonsense://x", "postgres://u:p@h:notaport/db"])
def test_database_url_refuses_what_is_not_a_database_url(url: str) -> None:
    assert "ImproperlyConfigured: DATABASE_URL is not a database URL" in settings_error(DATABASE_URL=url)


def test_an_empty_database_url_means_the_default() -> None:
    default = load_settings(["DATABASES"], DATABASE_URL="")["DATABASES"]["default"]
    assert default["ENGINE"] == "django.db.backends.sqlite3"


def test_test_database_name_names_the_test_database() -> None:
    default = load_settings(["DATABASES"], TEST_DATABASE_NAME="test_run_7")["DATABASES"]["default"]
    assert default["TEST"] == {"NAME": "test_run_7"}


def test_conn_max_age_sets_how_long_connections_live() -> None:
    loaded = load_settings(["DATABASES"], DATABASE_URL="postgres://h/db", CONN_MAX_AGE="30")
    assert loaded["DATABASES"]["default"]["CONN_MAX_AGE"] == 30


def test_database_pool_gives_a_postgresql_process_a_pool_instead_of_kept_connections() -> None:
    loaded = load_settings(["DATABASES"], DATABASE_URL="postgres://h/db", DATABASE_POOL="1", DATABASE_POOL_SIZE="3")
    default = loaded["DATABASES"]["default"]
    assert (default["CONN_MAX_AGE"], default["OPTIONS"]["pool"]) == (0, {"min_size": 1, "max_size": 3, "timeout": 5})
    assert load_settings(["DATABASES"], DATABASE_URL="postgres://h/db")["DATABASES"]["default"]["CONN_MAX_AGE"] == 600
    sqlite = load_settings(["DATABASES"], DATABASE_POOL="1")["DATABASES"]["default"]
    assert "pool" not in sqlite["OPTIONS"]  # one process, one connection


def test_database_pool_size_refuses_an_empty_pool() -> None:
    error = settings_error(DATABASE_URL="postgres://h/db", DATABASE_POOL="1", DATABASE_POOL_SIZE="0")
    assert error.endswith("must be at least 1.")


@pytest.mark.parametrize(
    ("raw", "error"), [("abc", "CONN_MAX_AGE='abc' is not a whole number."), ("-1", "must be at least 0.")]
)
def test_conn_max_age_refuses_bad_numbers(raw: str, error: str) -> None:
    assert settings_error(DATABASE_URL="postgres://h/db", CONN_MAX_AGE=raw).endswith(error)


def test_one_redis_url_gives_one_host() -> None:
    loaded = load_settings(["CHANNEL_LAYERS", "REDIS_URLS", "RETRY_EMBEDDED"], REDIS_URL="redis://cache:6379/2")
    layer = loaded["CHANNEL_LAYERS"]["default"]
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert [host["address"] for host in layer["CONFIG"]["hosts"]] == ["redis://cache:6379/2"]
    assert layer["CONFIG"]["prefix"] == "scoopboard"
    assert loaded["REDIS_URLS"] == ["redis://cache:6379/2"]
    assert loaded["RETRY_EMBEDDED"] is False


def test_several_redis_urls_give_several_hosts() -> None:
    raw = "redis://a:6379/0, rediss://b:6380/1 ,redis://c:6381/0"
    hosts = load_settings(["CHANNEL_LAYERS"], REDIS_URL=raw)["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"]
    assert [host["address"] for host in hosts] == ["redis://a:6379/0", "rediss://b:6380/1", "redis://c:6381/0"]
    assert all(host["socket_timeout"] > 5 for host in hosts)


@pytest.mark.parametrize("raw", ["http://cache:6379", "cache:6379", "redis://a:6379,localhost"])
def test_redis_url_refuses_what_is_not_a_redis_url(raw: str) -> None:
    assert "ImproperlyConfigured: REDIS_URL has" in settings_error(REDIS_URL=raw)


def test_redis_prefix_expiry_and_capacity_tune_the_layer() -> None:
    loaded = load_settings(
        ["CHANNEL_LAYERS"], REDIS_URL="redis://a:6379", REDIS_PREFIX="cakes", CHANNEL_EXPIRY="5", CHANNEL_CAPACITY="50"
    )
    config = loaded["CHANNEL_LAYERS"]["default"]["CONFIG"]
    assert (config["prefix"], config["expiry"], config["capacity"]) == ("cakes", 5, 50)


def test_expiry_and_capacity_tune_the_in_memory_layer_too() -> None:
    loaded = load_settings(["CHANNEL_LAYERS"], CHANNEL_EXPIRY="7", CHANNEL_CAPACITY="9")
    assert loaded["CHANNEL_LAYERS"]["default"]["CONFIG"] == {"expiry": 7, "capacity": 9}


@pytest.mark.parametrize("name", ["CHANNEL_EXPIRY", "CHANNEL_CAPACITY"])
def test_expiry_and_capacity_must_be_positive(name: str) -> None:
    assert settings_error(**{name: "0"}).endswith(f"{name}='0' must be at least 1.")


def test_retry_embedded_can_be_forced() -> None:
    assert load_settings(["RETRY_EMBEDDED"])["RETRY_EMBEDDED"] is True
    assert load_settings(["RETRY_EMBEDDED"], RETRY_EMBEDDED="0")["RETRY_EMBEDDED"] is False


def test_allowed_hosts_is_a_comma_separated_list() -> None:
    loaded = load_settings(["ALLOWED_HOSTS"], ALLOWED_HOSTS="cakes.example, .scoop.example ,")
    assert loaded["ALLOWED_HOSTS"] == ["cakes.example", ".scoop.example"]


def test_csrf_trusted_origins_is_a_list_of_origins() -> None:
    loaded = load_settings(["CSRF_TRUSTED_ORIGINS"], CSRF_TRUSTED_ORIGINS="https://cakes.example,http://localhost:8000")
    assert loaded["CSRF_TRUSTED_ORIGINS"] == ["https://cakes.example", "http://localhost:8000"]


def test_csrf_trusted_origins_refuses_bare_hosts() -> None:
    assert settings_error(CSRF_TRUSTED_ORIGINS="cakes.example").endswith(
        "CSRF_TRUSTED_ORIGINS has 'cakes.example': each origin starts with http:// or https://."
    )


def test_log_level_sets_django_task_lines_too() -> None:
    loggers = load_settings(["LOGGING"], LOG_LEVEL="warning")["LOGGING"]["loggers"]
    assert (loggers["retry"]["level"], loggers["django.tasks"]["level"]) == ("WARNING", "WARNING")
    assert load_settings(["LOGGING"])["LOGGING"]["loggers"]["django.tasks"]["level"] == "INFO"


def test_log_format_and_level_shape_the_logging() -> None:
    loaded = load_settings(["LOGGING", "LOG_FORMAT", "LOG_LEVEL"], LOG_FORMAT="JSON", LOG_LEVEL="debug")
    assert loaded["LOG_FORMAT"] == "json"
    assert loaded["LOGGING"]["handlers"]["console"]["formatter"] == "json"
    assert loaded["LOGGING"]["loggers"]["orders"]["level"] == "DEBUG"
    assert load_settings(["LOGGING"])["LOGGING"]["handlers"]["console"]["formatter"] == "text"


@pytest.mark.parametrize(("name", "raw"), [("LOG_FORMAT", "xml"), ("LOG_LEVEL", "loud")])
def test_log_settings_refuse_unknown_choices(name: str, raw: str) -> None:
    assert f"ImproperlyConfigured: {name}='{raw}' must be one of:" in settings_error(**{name: raw})


def test_time_zone_is_read() -> None:
    assert load_settings(["TIME_ZONE"], TIME_ZONE="Europe/Brussels")["TIME_ZONE"] == "Europe/Brussels"


def test_production_security_settings_follow_debug_off() -> None:
    names = ["SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"]
    loaded = load_settings(names, **PRODUCTION)
    assert loaded == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }
    tuned = load_settings(names[:2], **PRODUCTION, SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="60")
    assert tuned == {"SECURE_SSL_REDIRECT": False, "SECURE_HSTS_SECONDS": 60}


def test_static_files_are_compressed_and_hashed_in_production() -> None:
    storages = load_settings(["STORAGES"], **PRODUCTION)["STORAGES"]
    assert storages["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_the_laptop_default_prints_emails_and_signs_webhooks_with_a_development_secret() -> None:
    loaded = load_settings(["MAILERS", "WEBHOOK_SECRETS", "WEBHOOK_ALLOWED_PORTS", "RETRY_PERIODIC"])
    assert loaded["MAILERS"] == {
        "default": {"BACKEND": "django.core.mail.backends.console.EmailBackend", "OPTIONS": {}}
    }
    assert loaded["WEBHOOK_SECRETS"] == ["insecure-development-webhook-secret"]
    assert loaded["WEBHOOK_ALLOWED_PORTS"] == [80, 443, 8080, 8443]
    assert loaded["RETRY_PERIODIC"] == {"clean-up": {"task": "orders.tasks.clean_up", "every": 3600}}


def test_smtp_comes_from_the_email_variables() -> None:
    loaded = load_settings(
        ["MAILERS", "DEFAULT_FROM_EMAIL"],
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="smtp.example.com",
        EMAIL_PORT="587",
        EMAIL_HOST_USER="cakes",
        EMAIL_HOST_PASSWORD="pw",
        EMAIL_USE_TLS="1",
        DEFAULT_FROM_EMAIL="Cakes <cakes@example.com>",
    )
    assert loaded["MAILERS"]["default"]["OPTIONS"] == {
        "host": "smtp.example.com",
        "port": 587,
        "username": "cakes",
        "password": "pw",
        "use_tls": True,
        "timeout": 10,
    }
    assert loaded["DEFAULT_FROM_EMAIL"] == "Cakes <cakes@example.com>"


def test_production_sends_by_smtp_and_has_no_webhook_secret_unless_given() -> None:
    loaded = load_settings(["MAILERS", "WEBHOOK_SECRETS"], **PRODUCTION)
    assert loaded["MAILERS"]["default"]["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert loaded["WEBHOOK_SECRETS"] == []
    loaded = load_settings(
        ["WEBHOOK_SECRETS", "WEBHOOK_ALLOWED_NETWORKS", "WEBHOOK_ALLOWED_PORTS"],
        **PRODUCTION,
        WEBHOOK_SECRETS="whsec_bmV3,whsec_b2xk",
        WEBHOOK_ALLOWED_NETWORKS="127.0.0.1/32",
        WEBHOOK_ALLOWED_PORTS="443,9000",
    )
    assert loaded == {
        "WEBHOOK_SECRETS": ["whsec_bmV3", "whsec_b2xk"],
        "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.1/32"],
        "WEBHOOK_ALLOWED_PORTS": [443, 9000],
    }


RATE_LIMITS = ["ORDER_RATE_LIMIT_PER_ADDRESS", "ORDER_RATE_LIMIT_PER_EMAIL", "ORDER_RATE_LIMIT_WINDOW"]


def test_order_rate_limits_have_defaults_and_read_the_environment() -> None:
    assert load_settings(RATE_LIMITS) == dict(zip(RATE_LIMITS, [20, 5, 3600], strict=True))
    tuned = {"ORDER_RATE_LIMIT_PER_ADDRESS": "100", "ORDER_RATE_LIMIT_PER_EMAIL": "2", "ORDER_RATE_LIMIT_WINDOW": "60"}
    assert load_settings(RATE_LIMITS, **tuned) == {name: int(value) for name, value in tuned.items()}


def test_order_rate_limits_refuse_zero() -> None:
    assert settings_error(ORDER_RATE_LIMIT_PER_EMAIL="0") == (
        "django.core.exceptions.ImproperlyConfigured: ORDER_RATE_LIMIT_PER_EMAIL='0' must be at least 1."
    )


def test_with_redis_the_limits_are_counted_in_redis_shared_by_every_web_process() -> None:
    loaded = load_settings(["CACHES"], REDIS_URL="redis://cache.internal:6379/2", REDIS_PREFIX="shop")
    assert loaded["CACHES"]["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache.internal:6379/2",
        "KEY_PREFIX": "shop",
    }


BOARD_SETTINGS = ["BOARD_RATE_LIMIT", "BOARD_SEND_BUFFER", "BOARD_SLOW_GRACE", "BOARD_RESYNC_INTERVAL"]


def test_the_board_settings_are_declared_and_read_the_environment() -> None:
    assert load_settings(BOARD_SETTINGS) == {
        "BOARD_RATE_LIMIT": [10, 5.0],
        "BOARD_SEND_BUFFER": 1024 * 1024,
        "BOARD_SLOW_GRACE": 5.0,
        "BOARD_RESYNC_INTERVAL": 15.0,
    }
    tuned = {"BOARD_SEND_BUFFER": "4096", "BOARD_SLOW_GRACE": "2"}
    assert load_settings(list(tuned), **tuned) == {"BOARD_SEND_BUFFER": 4096, "BOARD_SLOW_GRACE": 2.0}


def test_board_settings_from_the_environment_refuse_values_out_of_range() -> None:
    assert settings_error(BOARD_SLOW_GRACE="0").endswith("BOARD_SLOW_GRACE='0' must be at least 1.")
    assert settings_error(BOARD_SEND_BUFFER="100").endswith("BOARD_SEND_BUFFER='100' must be at least 4096.")
