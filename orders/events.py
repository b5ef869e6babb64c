"""The hook every order change passes through once its transaction has committed.

Changes: placed, step_claimed, step_released, step_finished, ready, delivered, cancelled.
"""

import logging

logger = logging.getLogger("orders")


def order_changed(order_id: int, change: str) -> None:
    """Announce that an order changed; for now one structured log line."""
    logger.info("Order id=%s change=%s", order_id, change, extra={"order_id": order_id, "change": change})
