"""The health endpoint."""

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from retry.dispatcher import Dispatcher


@pytest.mark.django_db
@pytest.mark.services
def test_healthz_reports_the_database_answers(client: Client) -> None:
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok", "channel_layer": "ok", "dispatcher": None}


@pytest.mark.django_db(transaction=True)
def test_healthz_reports_the_dispatchers_last_pass(client: Client) -> None:
    Dispatcher().tick()
    dispatcher = client.get(reverse("healthz")).json()["dispatcher"]
    assert dispatcher["stale"] is False
    assert dispatcher["age_seconds"] < 5


@pytest.mark.django_db
def test_healthz_reports_503_when_the_channel_layer_is_unreachable(client: Client, settings: Settings) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1", "socket_connect_timeout": 0.5}]},
        }
    }
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["channel_layer"] == "error: ConnectionError"


def test_healthz_reports_503_without_a_database(client: Client) -> None:
    # Without django_db, pytest-django blocks database access: the check sees an error.
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["status"] == "error"


@pytest.mark.services
@pytest.mark.django_db
def test_healthz_finds_a_sharded_channel_layer_healthy(client: Client, settings: Settings) -> None:
    """Two shards (two databases of the test Redis): channels-redis sends to a process's channel on the shard of
    its full name and reads it from the shard of its prefix, so a ping sent straight to it is lost half the time."""
    layer = settings.CHANNEL_LAYERS["default"]
    if layer["BACKEND"] != "channels_redis.core.RedisChannelLayer":
        pytest.skip("needs Redis")
    [host] = layer["CONFIG"]["hosts"]
    server = host["address"].rsplit("/", 1)[0]
    shards = [{**host, "address": f"{server}/{database}"} for database in (0, 1)]
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": shards}}}
    answers = [client.get(reverse("healthz")) for _ in range(12)]
    assert [answer.json()["channel_layer"] for answer in answers] == ["ok"] * 12
