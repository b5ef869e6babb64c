"""The headers every answer carries: the Content-Security-Policy, HSTS as configured, and /healthz over plain HTTP."""

import pytest
from django.test import Client
from pytest_django import Settings

from tests.project.conftest import load_settings

pytestmark = pytest.mark.django_db

PRODUCTION = {"DEBUG": "0", "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"}


def test_every_page_carries_a_policy_that_allows_no_inline_code(client: Client) -> None:
    policy = client.get("/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == directives["object-src"] == "'none'"
    assert "unsafe-inline" not in policy


def test_hsts_subdomains_and_preload_are_settings() -> None:
    names = ["SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD"]
    assert load_settings(names, **PRODUCTION) == dict.fromkeys(names, True)
    off = {name: "0" for name in names}
    assert load_settings(names, **PRODUCTION, **off) == dict.fromkeys(names, False)


def test_healthz_answers_plain_http_while_pages_go_to_https(client: Client, settings: Settings) -> None:
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    page = client.get("/")
    assert (page.status_code, page["Location"]) == (301, "https://testserver/")


def test_browsers_asking_for_favicon_ico_are_sent_to_the_sites_icon(client: Client) -> None:
    answer = client.get("/favicon.ico")
    assert (answer.status_code, answer["Location"]) == (302, "/static/orders/favicon.svg")
