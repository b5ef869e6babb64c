"""The pickup screen: open order numbers in two columns, "being made" and "ready"; public, so nothing personal."""

from consumers import cards, protocol, reads
from consumers.base_board import BaseBoardConsumer
from orders import events


class PickupScreenConsumer(BaseBoardConsumer):
    """Anyone may watch; the only message it takes is a request for a fresh snapshot."""

    board = "pickup"
    actions = protocol.PICKUP_ACTIONS
    board_reads = reads.SharedReads(lambda _: cards.pickup_cards())
    card_reads = reads.SharedReads(cards.pickup_card_of, cards.pickup_cards_of)

    def board_groups(self) -> tuple[str, ...]:
        return (events.PICKUP_GROUP,)
