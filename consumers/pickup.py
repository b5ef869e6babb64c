"""The pickup screen: open order numbers in two columns, "being made" and "ready"; public, so nothing personal."""

from typing import Any

from consumers import cards, protocol
from consumers.live import LiveBoardConsumer
from orders import events


class PickupScreenConsumer(LiveBoardConsumer):
    """Anyone may watch; the only message it takes is a request for a fresh snapshot."""

    board = "pickup"
    allowed_actions = protocol.PICKUP_ACTIONS

    def board_groups(self) -> tuple[str, ...]:
        return (events.PICKUP_GROUP,)

    def load_cards(self) -> dict[int, dict[str, Any]]:
        return cards.pickup_cards()

    def load_card(self, order_id: int) -> dict[str, Any] | None:
        return cards.pickup_card_of(order_id)
