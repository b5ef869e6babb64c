"""A local SMTP server that takes every message and notes which order e-mail it is and when it came."""

import re
import threading
import time
from typing import cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from harness import servers

#: orders.emails gives each order e-mail the Message-ID <order-<id>-<kind>@host>.
MESSAGE_ID = re.compile(rb"^Message-ID:\s*<order-(\d+)-(\w+)@", re.IGNORECASE | re.MULTILINE)


class Sink:
    """An aiosmtpd handler: (order id, kind, time.time()) of each message taken; others count as strangers."""

    def __init__(self) -> None:
        self.received: list[tuple[int, str, float]] = []
        self.strangers = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        stamp = time.time()
        found = MESSAGE_ID.search(cast(bytes, envelope.original_content or envelope.content))
        with self.lock:
            if found:
                self.received.append((int(found[1]), found[2].decode(), stamp))
            else:
                self.strangers += 1
        return "250 OK"

    def taken(self) -> list[tuple[int, str, float]]:
        with self.lock:
            return list(self.received)


def start() -> tuple[Controller, Sink]:
    """A running sink on 127.0.0.1 (its port is ``controller.port``); stop it with ``controller.stop()``."""
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=servers.free_port())
    controller.start()
    return controller, sink
