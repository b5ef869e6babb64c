"""The kitchen board: every open order live, and the staff's actions on steps and orders."""

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from typing import Any

from channels.db import database_sync_to_async

from consumers import cards, protocol, reads, relay
from consumers.base_board import BaseBoardConsumer
from orders import events, services, task_facts
from orders.exceptions import (
    NotKitchenStaff,
    OrderError,
    OrderNotFound,
    StepAlreadyClaimed,
    StepClaimedByOther,
    TransitionNotAllowed,
)
from retry import conf

logger = logging.getLogger("consumers")

#: The error code a client gets for each refusal of the services; the first match wins.
ERROR_CODES = [
    (OrderNotFound, "not_found"),
    (StepAlreadyClaimed, "already_claimed"),
    (StepClaimedByOther, "claimed_by_other"),
    (TransitionNotAllowed, "not_allowed"),
    (NotKitchenStaff, "not_staff"),
    (OrderError, "refused"),
]


def step_id(action: protocol.Action) -> int:
    assert action.step_id is not None, "protocol.parse gives every step action its step_id"
    return action.step_id


def order_id(action: protocol.Action) -> int:
    assert action.order_id is not None, "protocol.parse gives every order action its order_id"
    return action.order_id


def claim(action: protocol.Action, user: Any) -> str:
    return f"You claimed {services.step_name(services.claim_step(step_id(action), user))}."


def release(action: protocol.Action, user: Any) -> str:
    return f"You released {services.step_name(services.release_step(step_id(action), user))}."


def finish(action: protocol.Action, user: Any) -> str:
    return f"{services.step_name(services.finish_step(step_id(action), user))} is done."


def deliver(action: protocol.Action, user: Any) -> str:
    return f"{services.mark_delivered(order_id(action), user).label} is delivered."


def cancel(action: protocol.Action, user: Any) -> str:
    return f"{services.cancel_order(order_id(action), user).label} is cancelled."


def claim_next(action: protocol.Action, user: Any) -> str:
    step = services.claim_next_step(user)
    if step is None:
        raise TransitionNotAllowed("Every step is taken: there is nothing left for you to claim.")
    return f"Next for you: {services.step_name(step)}."


#: The model permission each action amounts to, checked on the user read at that very message.
PERMISSIONS = {
    "claim": "orders.change_step",
    "release": "orders.change_step",
    "finish": "orders.change_step",
    "next": "orders.change_step",
    "deliver": "orders.change_order",
    "cancel": "orders.change_order",
}
#: What the permissions are called to the user.
PERMISSION_NAMES = {"orders.change_step": "change steps", "orders.change_order": "change orders"}

HANDLERS: dict[str, Callable[[protocol.Action, Any], str]] = {
    "claim": claim,
    "release": release,
    "finish": finish,
    "deliver": deliver,
    "cancel": cancel,
    "next": claim_next,
}


def error_code(problem: OrderError) -> str:
    return next(code for kind, code in ERROR_CODES if isinstance(problem, kind))


class KitchenBoardConsumer(BaseBoardConsumer):
    """Active staff only; the session is read again on every message and push, so a logout elsewhere ends access."""

    board = "kitchen"
    actions = protocol.ACTIONS
    permissions = ()
    board_reads = reads.SharedReads(lambda _: {card["id"]: card for card in cards.kitchen_cards()})
    card_reads = reads.SharedReads(cards.kitchen_card_of, cards.kitchen_cards_of)
    #: The order each task works for; it never changes, so any earlier read of it will do.
    task_order_reads = reads.SharedReads(task_facts.order_of_task)
    #: The order of each task a board of this process was sent on a card: a task event's card read starts as the
    #: event reaches the process (prepare), so that no board waits for it.
    known_tasks: OrderedDict[str, int] = OrderedDict()

    def board_groups(self) -> tuple[str, ...]:
        return (events.KITCHEN_GROUP, conf.get().EVENTS_GROUP)

    def removed(self, card: dict[str, Any]) -> dict[str, Any]:
        return {"order_id": card["id"], "number": card["number"]}

    def seen(self, order_id: int, card: dict[str, Any]) -> None:
        for task in card["tasks"]:
            self.task_orders[task["id"]] = order_id
            if self.known_tasks.get(task["id"]) != order_id:
                reads.remember(self.known_tasks, task["id"], order_id)

    @classmethod
    def prepare(cls, message: dict[str, Any], inboxes: Collection[relay.Inbox]) -> list[asyncio.Future[Any]]:
        """Besides an order event's reads, the card read of each task's order in a moment's task events, begun
        once the message reached the process, then the boards' sessions after them."""
        if message.get("type") != "task.changes":
            return super().prepare(message, inboxes)
        arrived = message.get(relay.ARRIVED, time.monotonic())
        futures: list[asyncio.Future[Any]] = []
        known: list[reads.Read] = []
        for event in message.get("events", []):
            order_id = cls.known_tasks.get(str(event.get("task_id")))
            if order_id is None:
                # A task no card showed yet (an order's first tasks are announced as its card is read): its order
                # is read first, then its card.
                futures.append(asyncio.ensure_future(cls.prepare_unknown(event, arrived, inboxes)))
            else:
                known.append(cls.card_reads.read_since(arrived, order_id))
        if known:
            last = max(known, key=lambda read: read.queued)
            futures += [read.future for read in known] + cls.access_reads(last, inboxes)
        return futures

    @classmethod
    async def prepare_unknown(cls, event: dict[str, Any], arrived: float, inboxes: Collection[relay.Inbox]) -> None:
        try:
            _, order_id = await cls.task_order_reads.since(float("-inf"), str(event.get("task_id")))
            if isinstance(order_id, int):
                card = cls.card_reads.read_since(arrived, order_id)
                await asyncio.wait([card.future, *cls.access_reads(card, inboxes)])
        except Exception:  # the database is away: each board reads what it needs itself then
            logger.debug("Could not prepare a task event", exc_info=True)

    def snapshot_extra(self) -> dict[str, Any]:
        return {"user": self.username}

    async def admit(self) -> bool:
        self.task_orders: dict[str, int] = {}
        if not await super().admit():
            return False
        self.username = self.user.get_username()
        return True

    async def act(self, action: protocol.Action) -> None:
        """Carry out the action as the user read at this message, if they hold its permission."""
        needed = PERMISSIONS[action.type]
        if not self.user.has_perm(needed):
            text = f"You need the permission to {PERMISSION_NAMES[needed]} ({needed})."
            await self.send_json(protocol.error("not_permitted", text, action))
            return
        try:
            text = await database_sync_to_async(HANDLERS[action.type])(action, self.user)
        except OrderError as problem:
            await self.send_json(protocol.error(error_code(problem), str(problem), action))
        except Exception:
            logger.exception("Board action failed", extra={"action": action.type})
            await self.send_json(protocol.error("server_error", "Something went wrong; try again.", action))
        else:
            await self.send_json(protocol.ok(action, text))

    async def task_changes(self, message: dict[str, Any]) -> None:
        """The retry layer's events of one moment, published together: each order on the board is shown again once,
        however many of its tasks changed (a task is often enqueued, started and done within one moment)."""
        changed: dict[int, str] = {}
        for event in message.get("events", []):
            order_id = await self.order_of(event)
            if order_id in self.cards:
                changed.pop(order_id, None)
                changed[order_id] = f"task.{event.get('change')}"
        # A read begun once the message reached this process: the one prepare started, done by now.
        arrived = message.get(relay.ARRIVED)
        for order_id, change in changed.items():
            if self.closed:
                return
            await self.refresh(order_id, change, since=arrived if isinstance(arrived, float) else None)

    async def task_changed(self, event: dict[str, Any]) -> None:
        """A retry-layer event: if the task works for an order on the board, show that order again."""
        await self.task_changes({"events": [event], relay.ARRIVED: event.get(relay.ARRIVED)})

    async def order_of(self, event: dict[str, Any]) -> int | None:
        """The order the event's task works for, if any."""
        if self.closed:
            return None
        task_id = str(event.get("task_id"))
        found = self.task_orders.get(task_id) or (await self.task_order_reads.since(float("-inf"), task_id))[1]
        return found if isinstance(found, int) else None
