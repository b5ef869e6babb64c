"""The ``layer`` fixture gives each test a channel layer of its own.

One process's layer lives on one event loop; a test run makes an event loop per test. channels-redis keeps asyncio
locks in the layer object: a per-channel lock of its receive path stays behind, bound to its event loop, when a
receive waiting for it is cancelled (as a timed-out receive is). A later test's receives then failed on it ("bound
to a different event loop"), and its boards resynced where they should have had an event.
"""

import asyncio
from typing import Any

import pytest

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(30)]


@pytest.fixture
def clean_locks(layer: Any) -> tuple[Any, str]:
    """The per-channel locks of the layer's receive path, and the key of this process's channels."""
    locks = getattr(layer, "receive_clean_locks", None)
    if locks is None:
        pytest.skip("the in-memory layer keeps no locks")
    return locks, f"{layer.prefix}specific.{layer.client_prefix}!"


async def test_a_receive_cancelled_while_it_waits_for_the_layers_lock(clean_locks: tuple[Any, str]) -> None:
    locks, key = clean_locks
    # What channels-redis does when a receive that waits behind another one's clean-up is cancelled.
    await locks.acquire(key)
    waiting = asyncio.ensure_future(locks.acquire(key))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    locks.release(key)
    assert key in locks.locks  # left behind, bound to this test's event loop


async def test_leaves_nothing_that_stops_the_next_tests_receives(layer: Any, clean_locks: tuple[Any, str]) -> None:
    locks, key = clean_locks
    channel = await layer.new_channel()
    await layer.group_add("fixture", channel)
    # A receive waits behind the clean-up of the message received before it, as one receive among several does.
    await locks.acquire(key)
    receiving = asyncio.ensure_future(layer.receive(channel))
    await layer.group_send("fixture", {"type": "ping"})
    await asyncio.sleep(0.1)
    locks.release(key)
    assert (await asyncio.wait_for(receiving, 10))["type"] == "ping"
