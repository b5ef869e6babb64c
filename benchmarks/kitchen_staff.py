"""Kitchen staff of the soak: each a kitchen board through HAProxy that claims steps, finishes them and hands
ready orders over, as a person at the kitchen page would, one action at a time."""

import asyncio
import itertools
import json
import time
from typing import Any

import websockets
from websockets.typing import Origin

#: Seconds between two actions of one person.
PAUSE = 0.3


class Staff:
    def __init__(
        self, url: str, origin: str, cookie: str, username: str, index: int, touched: dict[int, float]
    ) -> None:
        self.url, self.origin, self.cookie, self.username = url, origin, cookie, username
        #: Which of the steps to do this person takes: the staff spread over them instead of all wanting the first.
        self.index = index
        #: Order id → time.time() of the last action of any staff on it (the soak's "changed just now").
        self.touched = touched
        self.cards: dict[int, dict[str, Any]] = {}
        self.actions: dict[str, int] = {}
        self.refs = itertools.count()
        self.stopping = False

    async def run(self) -> None:
        while not self.stopping:
            try:
                async with websockets.connect(
                    f"{self.url.replace('http://', 'ws://', 1)}/ws/kitchen/",
                    additional_headers={"Cookie": self.cookie},
                    origin=Origin(self.origin),
                    max_size=2**24,
                    ping_interval=None,
                ) as socket:
                    # The socket's end ends the reading; the acting stops with it.
                    acting = asyncio.ensure_future(self.act(socket))
                    try:
                        await self.read(socket)
                    finally:
                        acting.cancel()
                        await asyncio.gather(acting, return_exceptions=True)
            except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.ConnectionClosed):
                pass
            await asyncio.sleep(0.5)

    async def read(self, socket: Any) -> None:
        async for frame in socket:
            message = json.loads(frame)
            kind = message.get("type")
            if kind == "snapshot":
                self.cards = {card["id"]: card for card in message["orders"]}
            elif kind == "order":
                self.cards[message["order"]["id"]] = message["order"]
            elif kind == "order.removed":
                self.cards.pop(message["order_id"], None)
            elif kind in ("ok", "error"):
                outcome = f"{kind}:{message.get('code', '')}".rstrip(":")
                self.actions[outcome] = self.actions.get(outcome, 0) + 1

    async def act(self, socket: Any) -> None:
        while not self.stopping:
            await asyncio.sleep(PAUSE)
            if (chosen := self.choose()) is None:
                continue
            action, order_id, field, value = chosen
            self.touched[order_id] = time.time()
            ref = str(next(self.refs))
            await socket.send(json.dumps({"type": action, "version": 1, field: value, "ref": ref}))

    def choose(self) -> tuple[str, int, str, int] | None:
        """Finish my claimed step, else hand over a ready order, else claim a step of the oldest open order."""
        cards = sorted(self.cards.values(), key=lambda card: card["id"])
        for card in cards:
            for step in card["steps"]:
                if step["status"] == "claimed" and step["claimed_by"] == self.username:
                    return "finish", card["id"], "step_id", step["id"]
        for card in cards:
            if card["status"] == "ready":
                return "deliver", card["id"], "order_id", card["id"]
        todo = [(card["id"], step["id"]) for card in cards for step in card["steps"] if step["status"] == "todo"]
        if not todo:
            return None
        order_id, step_id = todo[self.index % len(todo)]
        return "claim", order_id, "step_id", step_id
