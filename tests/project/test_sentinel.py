"""REDIS_SENTINELS and REDIS_SENTINEL_MASTER: the layer's and the cache's masters found through Sentinel, and
every variable that cannot work refused at start-up by a system check naming it."""

import os
import subprocess
import sys
from typing import Any

import pytest

from project import sentinel
from tests.project.conftest import BASE_DIR, clean_env, load_settings, run_python

SENTINELS = "10.0.0.1:26379, 10.0.0.2:26379,[fd00::3]:26380"
THREE = [["10.0.0.1", 26379], ["10.0.0.2", 26379], ["fd00::3", 26380]]


def layer_hosts(**variables: str) -> list[dict[str, Any]]:
    loaded = load_settings(["CHANNEL_LAYERS"], **variables)
    return list(loaded["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"])


def test_each_master_set_is_a_shard_found_through_every_sentinel() -> None:
    hosts = layer_hosts(REDIS_SENTINELS=SENTINELS, REDIS_SENTINEL_MASTER="cakes-a,cakes-b")
    assert [host["master_name"] for host in hosts] == ["cakes-a", "cakes-b"]
    assert all(host["sentinels"] == THREE for host in hosts)
    # The masters' connections keep the timeouts of REDIS_URL's: the blocking pop must not time out.
    assert all(host["socket_timeout"] > 5 and host["health_check_interval"] for host in hosts)
    assert all(host["sentinel_kwargs"]["socket_connect_timeout"] == sentinel.SENTINEL_TIMEOUT for host in hosts)
    assert not any("password" in host or "password" in host["sentinel_kwargs"] for host in hosts)


def test_the_passwords_reach_the_masters_and_the_sentinels() -> None:
    variables = {"REDIS_SENTINEL_PASSWORD": "s3cret", "REDIS_MASTER_PASSWORD": "m4ster"}
    (host,) = layer_hosts(REDIS_SENTINELS=SENTINELS, REDIS_SENTINEL_MASTER="cakes", **variables)
    assert host["password"] == "m4ster"
    assert host["sentinel_kwargs"]["password"] == "s3cret"


def test_under_sentinel_the_cache_is_the_first_masters_and_the_web_process_only_serves() -> None:
    variables = {"REDIS_SENTINELS": SENTINELS, "REDIS_SENTINEL_MASTER": "cakes-a,cakes-b", "REDIS_PREFIX": "shop"}
    loaded = load_settings(["CACHES", "RETRY_EMBEDDED"], **variables)
    cache = loaded["CACHES"]["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == ["cakes-a"]
    assert cache["KEY_PREFIX"] == "shop"
    assert cache["OPTIONS"]["pool_class"] == "project.sentinel.CachePool"
    assert cache["OPTIONS"]["sentinels"] == THREE
    assert loaded["RETRY_EMBEDDED"] is False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("redis-1:26379", ("redis-1", 26379)),
        ("10.0.0.1:1", ("10.0.0.1", 1)),
        ("[::1]:26379", ("::1", 26379)),
        ("redis-1", None),  # no port
        ("redis-1:", None),
        (":26379", None),
        ("redis-1:65536", None),
        ("redis-1:0", None),
        ("redis-1:port", None),
        ("::1:26379", None),  # an IPv6 address needs its brackets
    ],
)
def test_a_sentinel_address_is_host_colon_port(raw: str, expected: tuple[str, int] | None) -> None:
    assert sentinel.address(raw) == expected


def check(*arguments: str, **variables: str) -> tuple[int, str]:
    result = run_python(["manage.py", "check", *arguments], variables)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variables", "error"),
    [
        (
            {"REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2", "REDIS_SENTINEL_MASTER": "cakes"},
            "(project.E001) REDIS_SENTINELS has '10.0.0.2', which is not host:port with a port from 1 to 65535.",
        ),
        (
            {"REDIS_SENTINELS": SENTINELS},
            "(project.E002) REDIS_SENTINELS is set without REDIS_SENTINEL_MASTER: name each shard's master set.",
        ),
        (
            {"REDIS_SENTINEL_MASTER": "cakes"},
            "(project.E002) REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS: list the sentinels (host:port).",
        ),
        (
            {"REDIS_SENTINELS": SENTINELS, "REDIS_SENTINEL_MASTER": "cakes", "REDIS_URL": "redis://cache:6379/0"},
            "(project.E003) REDIS_URL and REDIS_SENTINELS are both set: set one of them.",
        ),
        (
            {"REDIS_SENTINELS": SENTINELS, "REDIS_SENTINEL_MASTER": "cakes,cakes"},
            "(project.E004) REDIS_SENTINEL_MASTER names 'cakes' more than once: each shard is a master set of its own.",
        ),
        (
            {"REDIS_SENTINELS": SENTINELS, "REDIS_SENTINEL_MASTER": "my cakes"},
            "(project.E004) REDIS_SENTINEL_MASTER has 'my cakes': a master set's name has no spaces.",
        ),
        (
            {"REDIS_URL": "redis://cache:6379/0", "REDIS_MASTER_PASSWORD": "m4ster"},
            "(project.E005) REDIS_MASTER_PASSWORD is read only with REDIS_SENTINELS; with REDIS_URL, the password",
        ),
    ],
)
def test_check_refuses_sentinel_variables_that_cannot_work_naming_them(variables: dict[str, str], error: str) -> None:
    returncode, output = check(**variables)
    assert returncode != 0
    assert error in output
    assert "Traceback" not in output


def test_check_accepts_a_good_sentinel_configuration() -> None:
    returncode, output = check(REDIS_SENTINELS=SENTINELS, REDIS_SENTINEL_MASTER="cakes-a,cakes-b")
    assert returncode == 0, output
    assert "System check identified no issues" in output


def test_check_deploy_warns_of_fewer_than_three_sentinels() -> None:
    variables = {"REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2:26379", "REDIS_SENTINEL_MASTER": "cakes"}
    returncode, output = check("--deploy", "--fail-level", "WARNING", **variables)
    assert returncode != 0
    assert "(project.W001) REDIS_SENTINELS lists 2 sentinels: a failover needs a majority" in output
    # Without --deploy the warning stays out of a developer's way.
    assert "project.W001" not in check(**variables)[1]


def test_the_web_process_refuses_bad_sentinel_variables_before_it_serves() -> None:
    daphne = os.path.join(os.path.dirname(sys.executable), "daphne")
    variables = {"DJANGO_SETTINGS_MODULE": "project.settings", "DATABASE_URL": "sqlite:///:memory:"}
    env = clean_env({**variables, "REDIS_SENTINELS": "10.0.0.1"})
    argv = [daphne, "--port", "0", "project.asgi:application"]
    result = subprocess.run(argv, env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "(project.E002) REDIS_SENTINELS is set without REDIS_SENTINEL_MASTER" in result.stderr
    assert "(project.E001) REDIS_SENTINELS has '10.0.0.1'" in result.stderr
