"""A throwaway Redis Sentinel deployment on free ports: a master, one replica of it, and sentinels watching them.

Nothing is kept on disk but each sentinel's own configuration file, which the sentinel rewrites as it learns.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from harness import servers

#: Milliseconds without an answer before a sentinel deems the master down: short, so a test's failover is quick.
DOWN_AFTER_MS = 1000


@dataclass
class Deployment:
    """The ports, names and passwords of one deployment; the argv of each of its servers."""

    directory: Path
    master_name: str = "scoopboard"
    password: str = "master-secret"
    sentinel_password: str = "sentinel-secret"
    sentinels: int = 3
    master_port: int = field(default_factory=servers.free_port)
    replica_port: int = field(default_factory=servers.free_port)
    sentinel_ports: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        while len(self.sentinel_ports) < self.sentinels:
            self.sentinel_ports.append(servers.free_port())

    @property
    def quorum(self) -> int:
        """Sentinels that must agree the master is down: a majority."""
        return self.sentinels // 2 + 1

    def server_argv(self, port: int) -> list[str]:
        # masterauth on both: once the replica is promoted, the old master may come back as its replica. A replica
        # writes the copy it receives to disk: in the deployment's directory, not wherever it was started.
        auth = ["--requirepass", self.password, "--masterauth", self.password, "--dir", str(self.directory)]
        return [*servers.redis_server_argv(port), *auth]

    def master_argv(self) -> list[str]:
        return self.server_argv(self.master_port)

    def replica_argv(self) -> list[str]:
        return [*self.server_argv(self.replica_port), "--replicaof", "127.0.0.1", str(self.master_port)]

    def sentinel_argv(self, index: int) -> list[str]:
        """The command of sentinel ``index``; writes its configuration file first."""
        port = self.sentinel_ports[index]
        config = self.directory / f"sentinel-{port}.conf"
        name = self.master_name
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.directory}\nrequirepass {self.sentinel_password}\n"
            f"sentinel monitor {name} 127.0.0.1 {self.master_port} {self.quorum}\n"
            f"sentinel auth-pass {name} {self.password}\n"
            f"sentinel down-after-milliseconds {name} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {name} 10000\n"
            # Told of the replica now, rather than from the master's INFO up to 10 s later.
            f"sentinel known-replica {name} 127.0.0.1 {self.replica_port}\n"
        )
        return ["redis-server", str(config), "--sentinel"]

    def environment(self) -> dict[str, str]:
        """The variables that point Scoopboard's processes at this deployment."""
        return {
            "REDIS_URL": "",
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports),
            "REDIS_SENTINEL_MASTER": self.master_name,
            "REDIS_SENTINEL_PASSWORD": self.sentinel_password,
            "REDIS_MASTER_PASSWORD": self.password,
        }

    def ask(self, index: int, *command: str) -> object:
        """A command to sentinel ``index``."""
        client = redis.Redis(port=self.sentinel_ports[index], password=self.sentinel_password, socket_timeout=2)
        try:
            return client.execute_command(*command)  # type: ignore[no-untyped-call]
        finally:
            client.close()

    def master_port_now(self, index: int = 0) -> int:
        """The master's port as sentinel ``index`` tells it."""
        answer = self.ask(index, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name)
        assert isinstance(answer, list | tuple)
        return int(answer[1])

    def ready(self) -> bool:
        """Every sentinel knows the master, the replica (in sync) and the other sentinels: a failover can happen."""
        try:
            for index in range(self.sentinels):
                fields = self.ask(index, "SENTINEL", "MASTER", self.master_name)
                assert isinstance(fields, dict)
                if int(fields[b"num-slaves"]) < 1 or int(fields[b"num-other-sentinels"]) < self.sentinels - 1:
                    return False
            replica = redis.Redis(port=self.replica_port, password=self.password, socket_timeout=2)
            try:
                return bool(replica.info("replication")["master_link_status"] == "up")
            finally:
                replica.close()
        except (redis.RedisError, KeyError):
            return False

    def wait_until_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Sentinel deployment is not ready after {timeout} s")
            time.sleep(0.1)
