"""Processes the chaos suite starts: the five services (`herald run <service>`) and helpers.

Each runs in a session (process group) of its own, so a SIGKILL or the final clean-up reaches
everything it may have started, and the logs of every incarnation go to one file per name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVICES = ("acl_mediator", "ingest", "processor", "sender", "websocket")
READY_TIMEOUT_S = 90
STOP_GRACE_S = 15
REPO = Path(__file__).resolve().parents[3]


@dataclass
class Procs:
    """Named processes, each with an HTTP port answering ``GET /healthz`` when it is ready."""

    env: dict[str, str]
    logs: Path
    commands: dict[str, list[str]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)
    tcp_only: set[str] = field(default_factory=set)  # helpers without /healthz

    def add_service(self, name: str, port: int) -> None:
        self.ports[name] = port
        self.commands[name] = [
            sys.executable, "-m", "herald", "run", name, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "WARNING",
        ]  # fmt: skip

    def add(self, name: str, port: int, command: list[str]) -> None:
        self.ports[name], self.commands[name] = port, command

    def start(self, name: str) -> None:
        with open(self.logs / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(
                self.commands[name],
                env={**os.environ, **self.env},
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg reaches all of it
            )

    def wait_ready(self, name: str, timeout_s: float = READY_TIMEOUT_S) -> None:
        """``/healthz`` answers 200 (or, for a helper without HTTP, the port accepts)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.procs[name].returncode}")
            if self._answers(name):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{name} not healthy within {timeout_s}s")

    def _answers(self, name: str) -> bool:
        port = self.ports[name]
        if name in self.tcp_only:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return True
            return False
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        return False

    def start_all(self, names: tuple[str, ...]) -> None:
        for name in names:
            self.start(name)
        for name in names:
            self.wait_ready(name)

    def kill(self, name: str) -> None:
        """SIGKILL to the whole group: no shutdown hooks, no flush, exactly like a crash."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        self.kills[name] = self.kills.get(name, 0) + 1

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def stop_all(self) -> None:
        """SIGTERM, then SIGKILL to any group still there; never raises."""
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
