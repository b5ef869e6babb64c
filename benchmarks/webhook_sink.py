"""A webhook receiver on 127.0.0.1 that answers 200 and counts each event id it is sent."""

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness import servers


class Sink:
    def __init__(self) -> None:
        self.port = servers.free_port()
        self.received: Counter[str] = Counter()
        self.strangers = 0
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    event_id = str(json.loads(body)["id"])
                except (ValueError, KeyError, TypeError):
                    event_id = ""
                with sink._lock:
                    if event_id:
                        sink.received[event_id] += 1
                    else:
                        sink.strangers += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/cake"

    def start(self) -> "Sink":
        self.thread.start()
        return self

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.received)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
