"""Fixtures shared by every test package."""

import os

import pytest
from django.conf import settings


def uses_services() -> bool:
    """True in the second pass of `make test`: PostgreSQL and Redis instead of SQLite and memory."""
    return bool(settings.REDIS_URLS)


@pytest.fixture
def redis_url() -> str:
    """The shared Redis server; tests give their keys a prefix of their own."""
    return os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
