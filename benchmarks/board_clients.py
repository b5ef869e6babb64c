"""Kitchen boards in a process of their own, each noting when it first shows each order.

    python -m benchmarks.board_clients URL ORIGIN COOKIE COUNT OUT

It prints "ready" once every board holds its snapshot. Then each line on stdin is a command: "status" prints
one JSON line of what the boards have seen so far; "stop" closes the boards, writes everything to OUT (JSON)
and prints "done". Each board behaves as the kitchen page's script (orders/static/orders/live.js): no pings,
a snapshot asked for at a gap in the event numbers (events until it comes are dropped), and a reconnect with
backoff after the server closes the socket.
"""

import asyncio
import json
import random
import sys
import time
from typing import Any

import websockets
from websockets.typing import Origin

#: Connections opened at the same time while the boards join.
CONNECT_BATCH = 50
#: Seconds a board may take to connect and get its snapshot.
CONNECT_TIMEOUT = 120.0
#: Close codes after which the page does not reconnect (not logged in, not allowed).
FINAL_CLOSES = frozenset({4401, 4403})
#: The page's longest wait before a reconnect, in seconds.
MAX_BACKOFF = 30.0


class Board:
    """One kitchen board: the first moment and the way each order reached it, and how often it reconnected."""

    def __init__(self, url: str, origin: str, cookie: str) -> None:
        self.url, self.origin, self.cookie = url, origin, cookie
        #: Order id → (time.time() of the first frame that shows it, the frame's "change" or "snapshot").
        self.first: dict[int, tuple[float, str]] = {}
        self.frames = 0
        self.bytes = 0
        #: The close code of each socket the server ended (-1: a connection that failed).
        self.closes: list[int] = []
        self.snapshots_asked = 0
        self.seq: int | None = None
        self.awaiting = False
        self.has_snapshot = asyncio.Event()
        self.socket: Any = None
        self.stopping = False

    async def run(self) -> None:
        failures = 0
        while True:
            opened, code = await self.session()
            if self.stopping or code in FINAL_CLOSES:
                return
            self.closes.append(code if opened and code is not None else -1)
            failures = 0 if opened else failures
            await asyncio.sleep(0.5 + random.random() * min(MAX_BACKOFF, 2.0**failures))
            failures += 1
            if self.stopping:
                return

    async def session(self) -> tuple[bool, int | None]:
        """One socket, from its opening to its close: whether it opened, and its close code."""
        self.seq, self.awaiting = None, False
        try:
            async with websockets.connect(
                self.url,
                additional_headers={"Cookie": self.cookie},
                origin=Origin(self.origin),
                max_size=2**24,
                open_timeout=CONNECT_TIMEOUT,
                ping_interval=None,
            ) as socket:
                self.socket = socket
                try:
                    async for frame in socket:
                        await self.take(time.time(), frame)
                except websockets.ConnectionClosed:
                    pass
                return True, socket.close_code
        except (OSError, TimeoutError, websockets.InvalidHandshake):
            return False, None

    async def take(self, now: float, frame: str | bytes) -> None:
        self.frames += 1
        self.bytes += len(frame)
        message = json.loads(frame)
        kind = message.get("type")
        if kind == "snapshot":
            self.seq, self.awaiting = message["seq"], False
            for card in message["orders"]:
                self.see(card["id"], now, "snapshot")
            self.has_snapshot.set()
        elif kind in ("order", "order.removed"):
            if self.seq is None or message["seq"] != self.seq + 1:
                await self.ask_for_snapshot()
                return
            self.seq = message["seq"]
            if kind == "order":
                self.see(message["order"]["id"], now, str(message.get("change")))

    async def ask_for_snapshot(self) -> None:
        if not self.awaiting:
            self.awaiting = True
            self.snapshots_asked += 1
            await self.socket.send(json.dumps({"type": "snapshot", "version": 1}))

    def see(self, order_id: int, now: float, how: str) -> None:
        if order_id not in self.first:
            self.first[order_id] = (now, how)

    async def stop(self) -> None:
        self.stopping = True
        if self.socket is not None:
            await self.socket.close()

    def result(self) -> dict[str, Any]:
        return {
            "first": [[order_id, stamp, how] for order_id, (stamp, how) in self.first.items()],
            "frames": self.frames,
            "bytes": self.bytes,
            "closes": self.closes,
            "snapshots_asked": self.snapshots_asked,
        }


async def join(boards: list[Board]) -> list[asyncio.Task[None]]:
    """Start the boards, a batch at a time, each batch once the one before has its snapshots."""
    running = []
    for start in range(0, len(boards), CONNECT_BATCH):
        batch = boards[start : start + CONNECT_BATCH]
        running += [asyncio.ensure_future(board.run()) for board in batch]
        await asyncio.wait_for(asyncio.gather(*(board.has_snapshot.wait() for board in batch)), CONNECT_TIMEOUT)
    return running


def status(boards: list[Board]) -> dict[str, Any]:
    return {
        "pairs": sum(len(board.first) for board in boards),
        "frames": sum(board.frames for board in boards),
        "reconnects": sum(len(board.closes) for board in boards),
    }


async def serve(url: str, origin: str, cookie: str, count: int, out: str) -> None:
    boards = [Board(url, origin, cookie) for _ in range(count)]
    running = await join(boards)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ready", flush=True)
    while (command := (await reader.readline()).decode().strip()) not in ("stop", ""):
        if command == "status":
            print(json.dumps(status(boards)), flush=True)
    cpu = time.process_time()
    await asyncio.gather(*(board.stop() for board in boards), return_exceptions=True)
    _, waiting = await asyncio.wait(running, timeout=10)
    for task in waiting:  # a board waiting to reconnect
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    with open(out, "w") as file:
        json.dump({"cpu_seconds": cpu, "boards": [board.result() for board in boards]}, file)
    print("done", flush=True)


def main() -> None:
    url, origin, cookie, count, out = sys.argv[1:6]
    asyncio.run(serve(url, origin, cookie, int(count), out))


if __name__ == "__main__":
    main()
