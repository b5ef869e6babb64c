"""The e-mail and webhook settings read from the environment (project/settings.py)."""

from tests.project.conftest import load_settings

PRODUCTION = {"DEBUG": "0", "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop"}


def test_the_laptop_default_prints_emails_and_signs_webhooks_with_a_development_secret():
    loaded = load_settings(["MAILERS", "WEBHOOK_SECRETS", "WEBHOOK_ALLOWED_PORTS", "RETRY_PERIODIC"])
    assert loaded["MAILERS"] == {
        "default": {"BACKEND": "django.core.mail.backends.console.EmailBackend", "OPTIONS": {}}
    }
    assert loaded["WEBHOOK_SECRETS"] == ["insecure-development-webhook-secret"]
    assert loaded["WEBHOOK_ALLOWED_PORTS"] == [80, 443, 8080, 8443]
    assert loaded["RETRY_PERIODIC"] == {"clean-up": {"task": "orders.tasks.clean_up", "every": 3600}}


def test_smtp_comes_from_the_email_variables():
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


def test_production_sends_by_smtp_and_has_no_webhook_secret_unless_given():
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
