"""The web side's settings: order rate limits and where they are counted, and the security headers."""

from tests.project.conftest import load_settings, settings_error

RATE_LIMITS = ["ORDER_RATE_LIMIT_PER_ADDRESS", "ORDER_RATE_LIMIT_PER_EMAIL", "ORDER_RATE_LIMIT_WINDOW"]


def test_order_rate_limits_have_defaults_and_read_the_environment():
    assert load_settings(RATE_LIMITS) == dict(zip(RATE_LIMITS, [20, 5, 3600], strict=True))
    tuned = {"ORDER_RATE_LIMIT_PER_ADDRESS": "100", "ORDER_RATE_LIMIT_PER_EMAIL": "2", "ORDER_RATE_LIMIT_WINDOW": "60"}
    assert load_settings(RATE_LIMITS, **tuned) == {name: int(value) for name, value in tuned.items()}


def test_order_rate_limits_refuse_zero():
    assert settings_error(ORDER_RATE_LIMIT_PER_EMAIL="0") == (
        "django.core.exceptions.ImproperlyConfigured: ORDER_RATE_LIMIT_PER_EMAIL='0' must be at least 1."
    )


def test_with_redis_the_limits_are_counted_in_redis_shared_by_every_web_process():
    loaded = load_settings(["CACHES"], REDIS_URL="redis://cache.internal:6379/2", REDIS_PREFIX="shop")
    assert loaded["CACHES"]["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache.internal:6379/2",
        "KEY_PREFIX": "shop",
    }
