"""A canary for the batched Redis send: it writes channels-redis' keys itself, so these fail when the installed
release stores, scores, expires or refuses messages otherwise than the batch does. Then the guard around it: the
system check and the decision, per layer, to fall back to the public send."""

import logging
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels_redis.core import RedisChannelLayer
from django.test import override_settings

from retry import checks, redis_batch
from tests.conftest import SHARED_REDIS
from tests.retry.conftest import receive_all

CHANNEL = "tasks.canary"
MESSAGES = [{"type": "task.run", "id": f"task-{number}", "note": "crème brûlée", "n": [number]} for number in range(20)]


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(SHARED_REDIS)
    yield client
    client.close()


def send(layer: RedisChannelLayer, message: dict[str, Any]) -> None:
    async_to_sync(layer.send)(CHANNEL, message)


def send_many(layer: RedisChannelLayer, messages: list[dict[str, Any]]) -> int:
    return async_to_sync(redis_batch.send_many)(layer, CHANNEL, messages)


@pytest.mark.services
@pytest.mark.parametrize("redis_layer", [100], indirect=True)
def test_the_layers_own_receive_reads_a_batch_in_order(redis_layer: Any) -> None:
    assert send_many(redis_layer, MESSAGES[:7]) == 7
    assert send_many(redis_layer, MESSAGES[7:]) == 13
    assert receive_all(redis_layer, CHANNEL) == MESSAGES


@pytest.mark.services
def test_send_and_the_batch_write_one_key_with_the_same_scores_and_expiry(
    redis_layer: Any, client: redis.Redis
) -> None:
    key = redis_layer.prefix + CHANNEL
    before = time.time()
    send(redis_layer, MESSAGES[0])
    assert [name.decode() for name in client.scan_iter(f"{redis_layer.prefix}*")] == [key]
    assert client.type(key) == b"zset"
    assert redis_layer.expiry - 1 <= client.ttl(key) <= redis_layer.expiry
    client.expire(key, 5)  # so the batch must set the expiry again
    assert send_many(redis_layer, MESSAGES[1:3]) == 2
    after = time.time()

    assert [name.decode() for name in client.scan_iter(f"{redis_layer.prefix}*")] == [key]
    assert redis_layer.expiry - 1 <= client.ttl(key) <= redis_layer.expiry
    entries = cast(list[tuple[bytes, float]], client.zrange(key, 0, -1, withscores=True))
    assert [redis_layer.deserialize(member) for member, _ in entries] == MESSAGES[:3]
    # Scores are send times in seconds, both ways: the layer drops what is older than its expiry by them.
    assert all(before <= score <= after + 0.001 for _, score in entries)


@pytest.mark.services
def test_send_and_the_batch_drop_expired_messages_by_the_same_cutoff(redis_layer: Any, client: redis.Redis) -> None:
    key = redis_layer.prefix + CHANNEL
    stale = time.time() - redis_layer.expiry - 5
    for sender in (lambda message: send(redis_layer, message), lambda message: send_many(redis_layer, [message])):
        client.zadd(key, {redis_layer.serialize({"type": "task.run", "id": "stale"}): stale})
        sender(MESSAGES[0])
        assert receive_all(redis_layer, CHANNEL) == [MESSAGES[0]]


@pytest.mark.services
@pytest.mark.parametrize("redis_layer", [3], indirect=True)
def test_the_batch_fills_to_the_capacity_send_counts_and_send_refuses_the_next(redis_layer: Any) -> None:
    assert send_many(redis_layer, MESSAGES[:5]) == 3
    with pytest.raises(ChannelFull):
        send(redis_layer, MESSAGES[5])
    assert send_many(redis_layer, MESSAGES[5:6]) == 0
    async_to_sync(redis_layer.receive)(CHANNEL)
    send(redis_layer, MESSAGES[6])  # room for one again, by the layer's count
    assert send_many(redis_layer, MESSAGES[7:8]) == 0
    assert receive_all(redis_layer, CHANNEL) == [MESSAGES[1], MESSAGES[2], MESSAGES[6]]


def test_the_installed_channels_redis_is_a_verified_release() -> None:
    # Fails on an upgrade: run this file's canary, then widen redis_batch.VERIFIED.
    assert redis_batch.unsupported() is None, redis_batch.unsupported()


@pytest.mark.parametrize(
    ("version", "said"),
    [
        ("4.1.0", "channels-redis 4.1.0 is not a release the batched task send was verified with (4.2.x, 4.3.x)"),
        ("4.4.0", "channels-redis 4.4.0 is not a release the batched task send was verified with (4.2.x, 4.3.x)"),
        ("5.0", "channels-redis 5.0 is not a release"),
        (None, "channels-redis is not installed"),
    ],
)
def test_a_release_outside_the_verified_ones_is_unsupported(
    monkeypatch: pytest.MonkeyPatch, version: str | None, said: str
) -> None:
    monkeypatch.setattr(redis_batch, "installed_version", lambda: version)
    reason = redis_batch.unsupported()
    assert reason is not None and reason.startswith(said)


def test_a_release_without_the_internals_the_batch_uses_is_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RedisChannelLayer, "connection", None)
    reason = redis_batch.unsupported()
    assert reason is not None and "lacks RedisChannelLayer.connection" in reason
    monkeypatch.undo()

    class Layer:  # an instance of a layer without ``ring_size``
        prefix, expiry = "asgi", 60

    reason = redis_batch.unsupported(Layer())
    assert reason is not None and "lacks the layer's ring_size" in reason


REDIS_LAYER = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [SHARED_REDIS]}}}
MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def warnings_of_the_check() -> list[str]:
    return [f"{message.id}: {message.msg}" for message in checks.check_redis_batch()]


def test_the_check_warns_when_the_release_of_the_redis_layer_is_not_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    with override_settings(CHANNEL_LAYERS=REDIS_LAYER):
        assert warnings_of_the_check() == []
        monkeypatch.setattr(redis_batch, "installed_version", lambda: "4.4.0")
        assert warnings_of_the_check() == [
            "retry.W001: channels-redis 4.4.0 is not a release the batched task send was verified with "
            "(4.2.x, 4.3.x): task messages go through the channel layer's send, one at a time."
        ]
    with override_settings(CHANNEL_LAYERS=MEMORY_LAYER):
        assert warnings_of_the_check() == []  # nothing is batched on another layer


def test_the_decision_is_taken_once_per_layer_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(redis_batch, "installed_version", lambda: "4.4.0")
    layer = RedisChannelLayer(hosts=[SHARED_REDIS])
    with caplog.at_level(logging.WARNING, logger="retry.redis_batch"):
        assert not redis_batch.supports(layer, "tasks.default")
        assert not redis_batch.supports(layer, "tasks.emails")
        monkeypatch.setattr(redis_batch, "installed_version", lambda: "4.3.0")
        assert not redis_batch.supports(layer, "tasks.default")  # decided for this layer
        assert redis_batch.supports(RedisChannelLayer(hosts=[SHARED_REDIS]), "tasks.default")
    [warning] = [record for record in caplog.records if record.name == "retry.redis_batch"]
    assert warning.getMessage() == "Task messages go through the channel layer's send, one at a time"
    assert "channels-redis 4.4.0" in vars(warning)["reason"]
