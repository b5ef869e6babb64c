"""The hook every order change passes through once its transaction has committed.

Changes: placed, step_claimed, step_released, step_finished, ready, delivered, cancelled.

Each change is logged and published to the board groups. Group messages are at most once, so every
event carries this process's source id and a number per group: a listener that sees a number skipped
knows it lost one and re-reads the database.
"""

import itertools
import logging
import threading
import uuid

from retry.outbox import outbox

logger = logging.getLogger("orders")

KITCHEN_GROUP = "boards.kitchen"
PICKUP_GROUP = "boards.pickup"
#: The changes that move an order between the pickup screen's columns.
PICKUP_CHANGES = frozenset({"placed", "ready", "delivered", "cancelled"})
EVENT_VERSION = 1
#: Names this process as the sender of its events.
SOURCE = uuid.uuid4().hex

_counters = {KITCHEN_GROUP: itertools.count(1), PICKUP_GROUP: itertools.count(1)}
_lock = threading.Lock()


def order_changed(order_id: int, change: str) -> None:
    """Announce that an order changed: one structured log line, and an event to each board group that shows it."""
    logger.info("Order id=%s change=%s", order_id, change, extra={"order_id": order_id, "change": change})
    for group in groups_for(change):
        broadcast_order_changed(group, order_id, change)


def groups_for(change: str) -> list[str]:
    return [KITCHEN_GROUP, PICKUP_GROUP] if change in PICKUP_CHANGES else [KITCHEN_GROUP]


def broadcast_order_changed(group: str, order_id: int, change: str) -> None:
    """Publish the change without waiting for the channel layer; the event names the order, never its data."""
    # Under one lock the outbox gets the events in number order (on Redis they may still overtake each other).
    with _lock:
        event = {
            "type": "order.changed",
            "version": EVENT_VERSION,
            "order_id": order_id,
            "change": change,
            "source": SOURCE,
            "n": next(_counters[group]),
        }
        outbox.group_send(group, event)
