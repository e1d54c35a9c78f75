"""Throwaway PostgreSQL cluster and RabbitMQ node for the chaos suite.

The suite kills and restarts them, so they must be its own: ``initdb`` in a temporary
directory on a free port, and a RabbitMQ node with its own name, ports and data directory.
Both run as their system users (PostgreSQL refuses root; RabbitMQ's scripts switch user).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_user(user: str, *cmd: str, env: dict[str, str] | None = None) -> list[str]:
    if os.geteuid() != 0:
        return list(cmd)
    env_args = [f"{k}={v}" for k, v in (env or {}).items()]
    return ["runuser", "-u", user, "--", "env", *env_args, *cmd]


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for version in sorted(Path("/usr/lib/postgresql").glob("*"), reverse=True):
        candidate = version / "bin" / name
        if candidate.exists():
            return str(candidate)
    raise RuntimeError(f"{name} not found: install PostgreSQL server binaries")


@dataclass
class PgCluster:
    root: Path
    port: int = 0

    @property
    def data(self) -> Path:
        return self.root / "pgdata"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str) -> None:
        subprocess.run(_as_user("postgres", *cmd), check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.root, "postgres") if os.geteuid() == 0 else None
        self.port = self.port or free_port()
        self._run(
            _pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync"
        )
        self.start()

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.root / "pg.log"),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop("immediate")  # like a crash: no checkpoint, WAL replay on start
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class RabbitNode:
    root: Path
    name: str = "herald_chaos"
    port: int = 0

    @property
    def node(self) -> str:
        return f"{self.name}@localhost"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        return {
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_PID_FILE": str(self.root / "pid"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.root / "plugins-expand"),
        }

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.dist_port = free_port()
        (self.root / "plugins").write_text("[].\n")
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(self.root)], check=True)
        self.start()

    def _ctl(self, *args: str, timeout: float = 120) -> None:
        env = {**os.environ, **self._env()}
        subprocess.run(
            ["rabbitmqctl", "-q", "-n", self.node, *args],
            check=True,
            env=env,
            capture_output=True,
            timeout=timeout,
        )

    def table(self, *args: str) -> list[list[str]]:
        """``rabbitmqctl list_…`` rows, one list of columns per line."""
        env = {**os.environ, **self._env()}
        cmd = ["rabbitmqctl", "-q", "-n", self.node, *args, "--no-table-headers"]
        done = subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=60)
        return [line.split("\t") for line in done.stdout.decode().splitlines() if line.strip()]

    def start(self) -> None:
        env = {**os.environ, **self._env()}
        subprocess.run(["rabbitmq-server", "-detached"], check=True, env=env, capture_output=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self._ctl("await_startup", "--timeout", "10", timeout=20)
                return
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def stop(self) -> None:
        self._ctl("stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
