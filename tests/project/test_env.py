"""The typed readers behind the settings, one variable at a time."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from project import env


def test_read_bool_falls_back_to_the_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLAG", raising=False)
    assert env.read_bool("FLAG", True) is True
    assert env.read_bool("FLAG", False) is False


@pytest.mark.parametrize("raw", ["", "0", "no", "FALSE", "Off"])
def test_read_bool_reads_false(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("FLAG", raw)
    assert env.read_bool("FLAG", True) is False


def test_read_int_treats_blank_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNT", "  ")
    assert env.read_int("COUNT", 5) == 5


def test_read_int_checks_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNT", "2")
    assert env.read_int("COUNT", 5, minimum=2) == 2
    with pytest.raises(ImproperlyConfigured, match=r"COUNT='2' must be at least 3\."):
        env.read_int("COUNT", 5, minimum=3)


def test_read_list_drops_blanks_and_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITEMS", " a, ,b ,")
    assert env.read_list("ITEMS", ["x"]) == ["a", "b"]
    monkeypatch.setenv("ITEMS", "")
    assert env.read_list("ITEMS", ["x"]) == []


@pytest.mark.parametrize("raw", ["redis://h:6379/0", "rediss://user:pw@h:6380", "unix:///run/redis.sock"])
def test_read_redis_urls_accepts_redis_urls(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("URLS", raw)
    assert env.read_redis_urls("URLS") == [raw]


def test_read_redis_urls_names_the_bad_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URLS", "redis://good:6379,memcached://bad")
    with pytest.raises(ImproperlyConfigured, match=r"URLS has 'memcached://bad', which is not a redis://host:port URL"):
        env.read_redis_urls("URLS")


def test_read_choice_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODE", " Json ")
    assert env.read_choice("MODE", "text", {"text", "json"}) == "json"
