"""Kitchen boards and pickup screens of the soak, in a process of their own, each keeping what it shows.

    python -m benchmarks.soak_boards URL ORIGIN COOKIE KITCHENS PICKUPS OUT

Each board acts as the page's script (orders/static/orders/live.js): a snapshot, numbered events, a snapshot asked
for at a gap, a reconnect with backoff when the socket ends. A kitchen board keeps each open order's status and
step statuses; a pickup screen each number's column. It prints "ready" once every board has its snapshot; then
each stdin line is a command: ``check`` followed by the database's state as JSON prints one JSON line saying how
many boards show exactly that (orders changed in the last moments, named in it, are not compared); ``stop`` writes
every board's figures to OUT and prints "done".
"""

import asyncio
import json
import random
import sys
import time
from typing import Any

import websockets
from websockets.typing import Origin

CONNECT_BATCH = 50
CONNECT_TIMEOUT = 120.0
MAX_BACKOFF = 5.0


class Board:
    def __init__(self, url: str, origin: str, cookie: str, kind: str) -> None:
        self.url, self.origin, self.cookie, self.kind = url, origin, cookie, kind
        #: kitchen: order id → [status, [step statuses]]; pickup: number → column.
        self.shows: dict[str, Any] = {}
        #: kitchen: order id → time.time() of the first frame that showed it.
        self.first: dict[str, float] = {}
        #: (when the socket ended, seconds until the next snapshot came) of each reconnect.
        self.reconnects: list[tuple[float, float]] = []
        self.ended_at: float | None = None
        self.seq: int | None = None
        self.awaiting = False
        self.ready = asyncio.Event()
        self.socket: Any = None
        self.stopping = False

    async def run(self) -> None:
        failures = 0
        while not self.stopping:
            opened = await self.session()
            if self.stopping:
                return
            self.ended_at = self.ended_at or time.time()
            failures = 0 if opened else failures + 1
            await asyncio.sleep(0.2 + random.random() * min(MAX_BACKOFF, 0.5 * 2.0**failures))

    async def session(self) -> bool:
        self.seq, self.awaiting = None, False
        try:
            async with websockets.connect(
                self.url,
                additional_headers={"Cookie": self.cookie} if self.cookie else {},
                origin=Origin(self.origin),
                max_size=2**24,
                open_timeout=CONNECT_TIMEOUT,
                ping_interval=None,
            ) as socket:
                self.socket = socket
                try:
                    async for frame in socket:
                        await self.take(json.loads(frame))
                except websockets.ConnectionClosed:
                    pass
                return True
        except (OSError, TimeoutError, websockets.InvalidHandshake):
            return False

    async def take(self, message: dict[str, Any]) -> None:
        kind, now = message.get("type"), time.time()
        if kind == "snapshot":
            self.seq, self.awaiting = message["seq"], False
            self.shows = dict(self.entry(card) for card in message["orders"])
            for key in self.shows:
                self.first.setdefault(key, now)
            if self.ended_at is not None:
                self.reconnects.append((self.ended_at, now - self.ended_at))
                self.ended_at = None
            self.ready.set()
        elif kind in ("order", "order.removed"):
            if self.seq is None or message["seq"] != self.seq + 1:
                if not self.awaiting:
                    self.awaiting = True
                    await self.socket.send(json.dumps({"type": "snapshot", "version": 1}))
                return
            self.seq = message["seq"]
            if kind == "order":
                key, shown = self.entry(message["order"])
                self.shows[key] = shown
                self.first.setdefault(key, now)
            else:
                self.shows.pop(str(message["order_id"] if self.kind == "kitchen" else message["number"]), None)

    def entry(self, card: dict[str, Any]) -> tuple[str, Any]:
        if self.kind == "kitchen":
            return str(card["id"]), [card["status"], [step["status"] for step in card["steps"]]]
        return str(card["number"]), card["column"]

    def equals(self, expected: dict[str, Any], recent: set[str]) -> bool:
        if self.seq is None or self.awaiting:
            return False
        keys = (set(expected) | set(self.shows)) - recent
        return all(self.shows.get(key) == expected.get(key) for key in keys)


async def serve(url: str, origin: str, cookie: str, kitchens: int, pickups: int, out: str) -> None:
    sockets = url.replace("http://", "ws://", 1)
    boards = [Board(f"{sockets}/ws/kitchen/", origin, cookie, "kitchen") for _ in range(kitchens)]
    boards += [Board(f"{sockets}/ws/pickup/", origin, "", "pickup") for _ in range(pickups)]
    running = []
    for start in range(0, len(boards), CONNECT_BATCH):
        batch = boards[start : start + CONNECT_BATCH]
        running += [asyncio.ensure_future(board.run()) for board in batch]
        await asyncio.wait_for(asyncio.gather(*(board.ready.wait() for board in batch)), CONNECT_TIMEOUT)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ready", flush=True)
    while (line := (await reader.readline()).decode().strip()) not in ("stop", ""):
        command, _, argument = line.partition(" ")
        if command == "check":
            state = json.loads(argument)
            equal = sum(board.equals(state[board.kind], set(state[f"recent_{board.kind}"])) for board in boards)
            print(json.dumps({"equal": equal, "boards": len(boards)}), flush=True)
    for board in boards:
        board.stopping = True
        if board.socket is not None:
            await board.socket.close()
    _, waiting = await asyncio.wait(running, timeout=10)
    for task in waiting:
        task.cancel()
    with open(out, "w") as file:
        json.dump([{"first": board.first, "reconnects": board.reconnects} for board in boards], file)
    print("done", flush=True)


def main() -> None:
    url, origin, cookie, kitchens, pickups, out = sys.argv[1:7]
    asyncio.run(serve(url, origin, cookie, int(kitchens), int(pickups), out))


if __name__ == "__main__":
    main()
