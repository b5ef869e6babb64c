"""Redis Sentinel: the channel layer's and the cache's masters, found through the sentinels that watch them.

REDIS_SENTINELS lists the sentinels (``host:port``, comma-separated); REDIS_SENTINEL_MASTER names the master
set of each shard (comma-separated, as REDIS_URL's URLs are). Each process asks the sentinels which server is a
master now, and asks again after a failover, when its connection to the old one breaks. What is wrong with these
variables is collected here, not raised: project.checks reports every problem at start-up, naming the variable.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from redis import sentinel as redis_sentinel

from project import env

SENTINELS = "REDIS_SENTINELS"
MASTERS = "REDIS_SENTINEL_MASTER"
SENTINEL_PASSWORD = "REDIS_SENTINEL_PASSWORD"
MASTER_PASSWORD = "REDIS_MASTER_PASSWORD"
#: Seconds to reach one sentinel and have its answer: a sentinel that is down is passed over for the next one.
SENTINEL_TIMEOUT = 2.0


@dataclass(frozen=True)
class Problem:
    """A Sentinel variable that cannot work, with the id of the system check that reports it."""

    check_id: str
    message: str


@dataclass(frozen=True)
class Sentinels:
    """What the environment says about Sentinel: the sentinels, each shard's master name, the passwords."""

    addresses: tuple[tuple[str, int], ...] = ()
    masters: tuple[str, ...] = ()
    sentinel_password: str = ""
    master_password: str = ""
    problems: tuple[Problem, ...] = field(default=(), compare=False)

    def __bool__(self) -> bool:
        """True when the channel layer is to find its Redis through Sentinel."""
        return bool(self.addresses and self.masters)


def address(item: str) -> tuple[str, int] | None:
    """``host:port`` or ``[IPv6 address]:port`` as a pair, or None when it is neither."""
    host, _, port = item.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        return None  # an IPv6 address without its brackets: where its port begins is unclear
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        return None
    return host, int(port)


def read() -> Sentinels:
    """The Sentinel variables of the environment, with every problem they have."""
    raw_sentinels = env.read_list("REDIS_SENTINELS", [])
    raw_masters = env.read_list("REDIS_SENTINEL_MASTER", [])
    passwords = {
        SENTINEL_PASSWORD: os.environ.get("REDIS_SENTINEL_PASSWORD", ""),
        MASTER_PASSWORD: os.environ.get("REDIS_MASTER_PASSWORD", ""),
    }
    addresses = [(item, address(item)) for item in raw_sentinels]
    problems = [
        Problem("project.E001", f"{SENTINELS} has {item!r}, which is not host:port with a port from 1 to 65535.")
        for item, parsed in addresses
        if parsed is None
    ]
    problems += pairing(bool(raw_sentinels), bool(raw_masters), bool(env.read_list("REDIS_URL", [])))
    problems += names(raw_masters)
    problems += [
        Problem("project.E005", f"{name} is read only with {SENTINELS}; with REDIS_URL, the password goes in the URL.")
        for name, value in passwords.items()
        if value and not raw_sentinels
    ]
    return Sentinels(
        addresses=tuple(parsed for _, parsed in addresses if parsed is not None),
        masters=tuple(raw_masters),
        sentinel_password=passwords[SENTINEL_PASSWORD],
        master_password=passwords[MASTER_PASSWORD],
        problems=tuple(problems),
    )


def pairing(sentinels: bool, masters: bool, urls: bool) -> list[Problem]:
    """Sentinels and master names come together, and never with REDIS_URL."""
    if sentinels and urls:
        return [Problem("project.E003", f"REDIS_URL and {SENTINELS} are both set: set one of them.")]
    if sentinels and not masters:
        return [Problem("project.E002", f"{SENTINELS} is set without {MASTERS}: name each shard's master set.")]
    if masters and not sentinels:
        return [Problem("project.E002", f"{MASTERS} is set without {SENTINELS}: list the sentinels (host:port).")]
    return []


def names(masters: list[str]) -> list[Problem]:
    """Each shard is a master set of its own, named without spaces (as `sentinel monitor` reads it)."""
    problems = [
        Problem("project.E004", f"{MASTERS} has {name!r}: a master set's name has no spaces.")
        for name in masters
        if any(character.isspace() for character in name)
    ]
    problems += [
        Problem("project.E004", f"{MASTERS} names {name!r} more than once: each shard is a master set of its own.")
        for name in sorted({name for name in masters if masters.count(name) > 1})
    ]
    return problems


def sentinel_options(config: Sentinels) -> dict[str, Any]:
    """How to talk to the sentinels themselves."""
    options: dict[str, Any] = {"socket_connect_timeout": SENTINEL_TIMEOUT, "socket_timeout": SENTINEL_TIMEOUT}
    if config.sentinel_password:
        options["password"] = config.sentinel_password
    return options


def master_options(config: Sentinels, connection: Mapping[str, Any]) -> dict[str, Any]:
    """How to talk to a master: the ``connection`` options, plus its password."""
    options = dict(connection)
    if config.master_password:
        options["password"] = config.master_password
    return options


def layer_hosts(config: Sentinels, connection: Mapping[str, Any]) -> list[dict[str, Any]]:
    """channels-redis' ``hosts``: one entry per shard, its master found through the sentinels."""
    return [
        {
            "sentinels": list(config.addresses),
            "master_name": master,
            "sentinel_kwargs": sentinel_options(config),
            **master_options(config, connection),
        }
        for master in config.masters
    ]


def cache(config: Sentinels, prefix: str, connection: Mapping[str, Any]) -> dict[str, Any]:
    """Django's Redis cache on the first shard's master, as REDIS_URL's first URL holds it without Sentinel."""
    options = {"sentinels": list(config.addresses), "sentinel_kwargs": sentinel_options(config)}
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": [config.masters[0]],
        "KEY_PREFIX": prefix,
        "OPTIONS": {"pool_class": f"{__name__}.CachePool", **options, **master_options(config, connection)},
    }


class CachePool(redis_sentinel.SentinelConnectionPool):
    """The pool Django's Redis cache makes per server: here the server is a master set's name."""

    @classmethod
    def from_url(  # type: ignore[override]
        cls, url: str, *, sentinels: list[tuple[str, int]], sentinel_kwargs: dict[str, Any], **options: Any
    ) -> "CachePool":
        addresses = [(host, port) for host, port in sentinels]
        manager = redis_sentinel.Sentinel(addresses, sentinel_kwargs=sentinel_kwargs)  # type: ignore[no-untyped-call]
        return cls(url, manager, **options)
