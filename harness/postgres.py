"""A throwaway PostgreSQL cluster on a free port, so that cluster-wide figures (WAL, statement statistics) count
one run's work alone. Made with Debian's initdb in a temporary directory, removed when it stops."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness import servers


def binaries() -> Path:
    """The newest PostgreSQL's bin directory (Debian keeps them under /usr/lib/postgresql/<major>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if not found:
        raise FileNotFoundError("no initdb under /usr/lib/postgresql: apt-get install postgresql")
    return found[-1].parent


class Cluster:
    """One cluster: ``start`` makes and starts it, ``stop`` stops it and removes its files."""

    def __init__(self, *settings: str) -> None:
        #: ``name=value`` server settings, e.g. ``shared_preload_libraries=pg_stat_statements``.
        self.settings = settings
        self.port = servers.free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="scoopboard-pg-"))
        self.data = self.directory / "data"
        self.bin = binaries()

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        # PostgreSQL refuses to run as root: root runs it as the postgres user.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=120)

    def start(self) -> "Cluster":
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._pg_ctl("start")
        return self

    def restart(self) -> None:
        """Stop the server (fast: every session is ended) and start it again on the same port and data."""
        self._pg_ctl("restart", "-m", "fast")

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.directory}"
        options += "".join(f" -c {setting}" for setting in self.settings)
        log = str(self.directory / "server.log")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", action, *extra)

    def postmaster(self) -> int:
        """The process id of the server (its backends are its children)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)
