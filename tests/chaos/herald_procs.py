"""The five services as real processes (`herald run <service>`), killable and restartable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVICES = ("acl_mediator", "ingest", "processor", "sender", "websocket")
READY_TIMEOUT_S = 60


@dataclass
class Herald:
    env: dict[str, str]
    ports: dict[str, int]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)

    def start(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        cmd = [sys.executable, "-m", "herald", "run", name, "--host", "127.0.0.1",
               "--port", str(self.ports[name])]
        self.procs[name] = subprocess.Popen(
            cmd, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, name: str, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self.ports[name]}/healthz"
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.procs[name].returncode}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} not healthy within {timeout_s}s")

    def start_all(self) -> None:
        for name in SERVICES:
            self.start(name)
        for name in SERVICES:
            self.wait_ready(name)

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hooks, no flush, exactly like a crash."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self.kills[name] = self.kills.get(name, 0) + 1

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
