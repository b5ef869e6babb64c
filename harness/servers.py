"""Local servers: a free port, a throwaway redis-server's command line, and waiting until a port answers."""

import socket
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redis_server_argv(port: int) -> list[str]:
    """A redis-server on ``port`` that keeps nothing on disk: stopping it loses every message it held."""
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def wait_until_listening(port: int, timeout: float = 10.0) -> None:
    """Return once something accepts connections on ``port``; TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")
