"""`herald run websocket --workers 2`: two processes on one port, both serving; SIGTERM ends
them all; an invalid feeds file stops the start with the culprit named."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from tests.apps import JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, eventually, user_token
from tests.integration.services.websocket.harness import FEEDS, MEDIATOR_KEY, ORIGIN, recv_json

CLI = [sys.executable, "-c", "from herald.cli import main; main()", "run", "websocket"]


def _env(database_url: str, amqp_url: str, feeds: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_AMQP_URL": amqp_url,
        "HERALD_JWT_SECRET": JWT_SECRET,
        "HERALD_JWT_AUDIENCE": JWT_AUDIENCE,
        "HERALD_JWT_ISSUER": JWT_ISSUER,
        "HERALD_MEDIATOR_URL": "http://127.0.0.1:9",
        "HERALD_MEDIATOR_API_KEY": MEDIATOR_KEY,
        "HERALD_WS_FEEDS_FILE": str(feeds),
        "HERALD_WS_ALLOWED_ORIGINS": json.dumps([ORIGIN]),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_port_pair() -> int:
    """A port whose next one is free too: worker i listens on HERALD_METRICS_PORT + i."""
    while True:
        first = _free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", first + 1))
            except OSError:
                continue
        return first


def _children(pid: int) -> list[int]:
    """The worker processes (spawned), not multiprocessing's resource tracker."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    return [p for p in pids if b"spawn_main" in _cmdline(p)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


async def _serving(port: int) -> bool:
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def _scraped(port: int) -> int:
    async with httpx.AsyncClient(trust_env=False) as http:
        return (await http.get(f"http://127.0.0.1:{port}/metrics")).status_code


async def _listening(*ports: int) -> bool:
    """Every worker's metrics listener is up (one worker may serve the port before the
    other has started its listener)."""
    try:
        return all([await _scraped(p) == 200 for p in ports])
    except httpx.HTTPError:
        return False


async def test_two_workers_share_the_port(database_url: str, amqp_url: str) -> None:
    metrics_port = _free_port_pair()
    port = next(p for p in iter(_free_port, 0) if p not in (metrics_port, metrics_port + 1))
    args = [*CLI, "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    env = _env(database_url, amqp_url, FEEDS)
    env.update(HERALD_METRICS_PORT=str(metrics_port), HERALD_METRICS_HOST="127.0.0.1")
    proc = subprocess.Popen(args, env=env)
    workers: list[int] = []
    try:
        for _ in range(600):  # 60 s: two interpreters starting on a loaded machine
            workers = _children(proc.pid)
            if (
                len(workers) == 2
                and await _serving(port)
                and await _listening(metrics_port, metrics_port + 1)
            ):
                break
            await asyncio.sleep(0.1)
        assert len(workers) == 2
        # each worker keeps its own registry: worker i serves it on HERALD_METRICS_PORT + i
        assert [await _scraped(p) for p in (metrics_port, metrics_port + 1, port)] == [
            200,
            200,
            404,
        ]
        for user in ("u-1", "u-2", "u-3", "u-4"):
            url = f"ws://127.0.0.1:{port}/?token={user_token(user)}"
            async with connect(url, origin=ORIGIN) as conn:  # type: ignore[arg-type]
                assert (await recv_json(conn))["user_id"] == user
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0

        async def all_gone() -> bool:  # the resource tracker child lingers a moment
            return not any(Path(f"/proc/{pid}").exists() for pid in workers)

        await eventually(all_gone)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in workers:
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)


def test_invalid_feeds_file_stops_the_start(tmp_path: Path) -> None:
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds: {t: {sources: [a], params: {}, fields: [id]}}")
    env = _env("postgresql+asyncpg://postgres@127.0.0.1:1/x", "memory://", bad)
    done = subprocess.run(CLI, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "feeds.t.authorize" in done.stderr
