"""Processes and load for bench/websocket: the gateway under `herald run`, child processes,
the client fleet's control, and the event publisher."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from libs.common.bus import make_bus
from libs.common.bus.topology import ACCEPTED_EXCHANGE
from libs.common.schemas.accepted import AcceptedEvent, AcceptedEvents

SOURCES = [f"127.0.0.{i}" for i in range(2, 34)]  # 32 source addresses, 8 per client process
PHASE_TIMEOUT_S = 90.0
SECRET = "bench-jwt-secret-0123456789abcdefghijklmnop"
AUDIENCE, ISSUER, ORIGIN = "herald-bench", "https://sso.bench", "http://bench.test"
SUBSCRIBE = '{"type":"subscribe","feed":"tender","params":{"tender_id":"T-1"}}'


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gateway_process(
    amqp_url: str, feeds: Path, database_url: str, workers: int = 1
) -> Iterator[tuple[int, int]]:
    """``database_url``: migrated (welcome reads the user's inbox cursor)."""
    port = free_port()
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_AMQP_URL": amqp_url,
        "HERALD_JWT_SECRET": SECRET,
        "HERALD_JWT_AUDIENCE": AUDIENCE,
        "HERALD_JWT_ISSUER": ISSUER,
        "HERALD_MEDIATOR_URL": "http://127.0.0.1:9",  # the bench feed needs no check
        "HERALD_MEDIATOR_API_KEY": "bench-mediator-key-0123456789",
        "HERALD_WS_FEEDS_FILE": str(feeds),
        "HERALD_WS_ALLOWED_ORIGINS": json.dumps([ORIGIN]),
        "HERALD_WS_IDLE_TIMEOUT_S": "600",  # the bench clients never ping
        "HERALD_WS_MAX_CONNECTIONS": "19000",
    }
    cmd = [sys.executable, "-c", "from herald.cli import main; main()", "run", "websocket"]
    level = os.environ.get("BENCH_WS_LOG", "WARNING")
    args = ["--host", "127.0.0.1", "--port", str(port), "--log-level", level]
    args += ["--workers", str(workers)]
    proc = subprocess.Popen([*cmd, *args], env=env)
    try:
        _wait_healthy(port, proc)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gateway did not start")


@contextmanager
def child(target: Any) -> Iterator[tuple[Connection, int]]:
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(theirs,), daemon=True)
    proc.start()
    try:
        assert proc.pid is not None
        yield mine, proc.pid
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()


class Clients:
    def __init__(self, pipes: list[Connection]) -> None:
        self.pipes = pipes

    def all(self, cmd: str, group: str, args: list[Any]) -> list[Any]:
        for pipe, arg in zip(self.pipes, args, strict=True):
            pipe.send((cmd, group, arg))
        return [pipe.recv() for pipe in self.pipes]

    def same(self, cmd: str, group: str, arg: Any = None) -> list[Any]:
        return self.all(cmd, group, [arg] * len(self.pipes))

    def open(self, group: str, port: int, total: int, token: bool) -> tuple[int, float]:
        per = total // len(self.pipes)
        specs = [
            {
                "port": port,
                "count": per,
                "sources": SOURCES[k * 8 : (k + 1) * 8],
                "origin": ORIGIN,
                "secret": SECRET if token else None,
                "claims": {"aud": AUDIENCE, "iss": ISSUER, "exp": int(time.time()) + 3600},
                "user_prefix": f"u{k}-",
                "subscribe": SUBSCRIBE if token else None,
            }
            for k in range(len(self.pipes))
        ]
        started = time.monotonic()
        results = self.all("open", group, specs)
        elapsed = time.monotonic() - started
        errors = [e for _, errs in results for e in errs]
        if errors:
            print(f"  {group}: connection errors, e.g. {errors[:3]}")
        return sum(n for n, _ in results), elapsed

    def wait_events(self, group: str, expected: int) -> tuple[int, float]:
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        while True:
            stats = self.same("stats", group, False)
            got, last = sum(s[0] for s in stats), max(s[1] for s in stats)
            if got >= expected or time.monotonic() > deadline:
                return got, last
            time.sleep(0.2)

    def latencies(self, group: str) -> list[float]:
        return [x for s in self.same("stats", group, True) for x in s[2]]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def _envelope(seq: int) -> bytes:
    """As ingest publishes an event it stored (services/ingest/accepted.py)."""
    body = {
        "id": f"e-{seq}-{uuid.uuid4().hex[:6]}",
        "source": "tenders",
        "type": "tender.updated",
        "tenant": "default",
        "entity": {"type": "tender", "id": "T-1", "attributes": {"status": "open"}},
        "payload": {"title": f"{time.time():.6f}", "contact_phone": "+7 900 000 00 00"},
    }
    event = AcceptedEvent(
        event_id=str(uuid.uuid4()), tenant="default", at=datetime.now(UTC), body=body
    )
    return AcceptedEvents(events=[event]).model_dump_json().encode()


async def publish(amqp_url: str, count: int, pace_s: float) -> float:
    bus = make_bus(amqp_url)
    await bus.connect()
    try:
        started = time.time()
        for seq in range(count):
            await bus.publish(ACCEPTED_EXCHANGE, "tenders.tender.updated", _envelope(seq))
            if pace_s:
                await asyncio.sleep(pace_s)
        return started
    finally:
        await bus.close()
