"""A whole Scoopboard cluster on one machine, on loopback ports: HAProxy in front of web processes, two Redis
shards, a PostgreSQL cluster of its own, workers and dispatchers.

Each Scoopboard process is started with its Procfile command line (the release step, ``migrate``, first) and the
production settings (``project.settings``) read from environment variables; the web processes bind 127.0.0.1
instead of the Procfile's 0.0.0.0. The faults of the soak (benchmarks.soak) are methods: a process killed and
started again on the same port, PostgreSQL restarted.
"""

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import postgres, servers
from harness.processes import Process

ROOT = Path(__file__).resolve().parent.parent
#: Seconds a process may take to listen or to start on a busy machine.
START_TIMEOUT = 120.0


def procfile() -> dict[str, str]:
    """The Procfile's command line of each process type."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {name.strip(): command.strip() for name, _, command in (line.partition(":") for line in lines) if command}


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or next((path for path in ("/usr/sbin/haproxy",) if Path(path).exists()), None)
    if found is None:
        raise FileNotFoundError("haproxy is not installed: run 'make haproxy-deps' (Debian's haproxy package)")
    return found


class Cluster:
    """Start with ``start()``; ``url`` is HAProxy's address, ``env`` the settings every process got."""

    def __init__(
        self, settings: dict[str, str], logs: Path, *, webs: int = 3, workers: int = 3, dispatchers: int = 2
    ) -> None:
        self.settings = settings
        self.counts = {"web": webs, "worker": workers, "dispatcher": dispatchers}
        self.folder = Path(tempfile.mkdtemp(prefix="scoopboard-cluster-"))
        #: Each process's output, in a file of its own; kept after the cluster stops.
        self.logs = logs
        self.logs.mkdir(parents=True, exist_ok=True)
        self.database = postgres.Cluster()
        self.shard_ports = [servers.free_port(), servers.free_port()]
        self.web_ports = [servers.free_port() for _ in range(webs)]
        self.port = servers.free_port()
        self.processes: dict[str, list[Process]] = {}
        self.env: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Cluster":
        self.database.start()
        self.processes["redis"] = [
            Process(f"redis-{index}", servers.redis_server_argv(port), dict(os.environ), self.logs).start()
            for index, port in enumerate(self.shard_ports)
        ]
        for port in self.shard_ports:
            servers.wait_until_listening(port, timeout=START_TIMEOUT)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "DATABASE_URL": self.database.url,
            "REDIS_URL": ",".join(f"redis://127.0.0.1:{port}/0" for port in self.shard_ports),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": self.url,
            **self.settings,
        }
        commands = procfile()
        subprocess.run(shlex.split(commands["release"]), cwd=ROOT, env=self.env, check=True, capture_output=True)
        self.processes["web"] = [self._web(commands["web"], index, port) for index, port in enumerate(self.web_ports)]
        for kind in ("worker", "dispatcher"):
            argv = shlex.split(commands[kind])
            self.processes[kind] = [
                Process(f"{kind}-{index}", argv, self.env, self.logs).start() for index in range(self.counts[kind])
            ]
        for port in self.web_ports:
            servers.wait_until_listening(port, timeout=START_TIMEOUT)
        self.processes["haproxy"] = [self._haproxy()]
        servers.wait_until_listening(self.port, timeout=START_TIMEOUT)
        return self

    def _web(self, command: str, index: int, port: int) -> Process:
        line = command.replace("${PORT:-8000}", str(port)).replace("0.0.0.0", "127.0.0.1")
        return Process(f"web-{index}", shlex.split(line), self.env, self.logs).start()

    def _haproxy(self) -> Process:
        config = self.folder / "haproxy.cfg"
        webs = "\n".join(
            f"    server web{index} 127.0.0.1:{port} check inter 500 fall 2 rise 1"
            for index, port in enumerate(self.web_ports)
        )
        config.write_text(HAPROXY_CONFIG.format(port=self.port, servers=webs))
        return Process("haproxy", [haproxy_binary(), "-db", "-f", str(config)], dict(os.environ), self.logs).start()

    # The faults.
    def kill(self, kind: str, index: int, how: int = signal.SIGKILL) -> float:
        """Kill one process (SIGKILL, or ``how``), start it again at once; the seconds until it listens again."""
        process = self.processes[kind][index]
        if how == signal.SIGKILL:
            process.kill()
        else:
            process.stop(grace=30.0)  # SIGTERM, and SIGKILL if it is still there then
        began = time.monotonic()
        process.start()
        if kind == "web":
            servers.wait_until_listening(self.web_ports[index], timeout=START_TIMEOUT)
        elif kind == "redis":
            servers.wait_until_listening(self.shard_ports[index], timeout=START_TIMEOUT)
        return time.monotonic() - began

    def restart_database(self) -> float:
        began = time.monotonic()
        self.database.restart()
        return time.monotonic() - began

    def pids(self) -> dict[str, int]:
        return {process.name: process.pid for group in self.processes.values() for process in group}

    def stop(self) -> None:
        for kind in ("haproxy", "web", "worker", "dispatcher", "redis"):
            for process in self.processes.get(kind, []):
                process.stop(grace=15.0)
        self.database.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


#: Round robin over the web processes; a websocket stays on its process until one of them closes it. A process
#: that stops answering is out after 2 failed checks, 0.5 s apart, and back after one good one.
HAPROXY_CONFIG = """global
    maxconn 8000
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout tunnel 1h
    option redispatch
    retries 2
frontend soak
    bind 127.0.0.1:{port}
    default_backend webs
backend webs
    balance roundrobin
    option forwardfor
{servers}
"""
