"""Request heads capped before any auth on every HTTP service (DESIGN §13, issue 14).

Each service runs as ``herald run <service>`` (its real server: uvicorn for ingest, the
mediator, the processor's and the sender's health and metrics; ``websockets`` for the gateway;
asyncio streams for ``/metrics`` on its own port) and is attacked over a real socket: a head
just under 64 KiB is served, one just over is refused, an endless header is cut off within two
seconds, and 48 clients each holding ~1 MiB of unfinished headers do not grow the server's
memory by what they sent. Before the cap uvicorn kept all of it (a 64 MiB header: +125 MiB of
RSS, an answer after 7-16 s) and the gateway kept ~1 MiB per client.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from pathlib import Path

import pytest

from libs.common.web.header_limit import MAX_HEADER_BYTES
from tests.integration.services.websocket.harness import FEEDS, MEDIATOR_KEY, ORIGIN
from tests.processes import free_port, herald_process
from tests.unit.services.ingest.intake_support import ingest_env

MIB = 1024 * 1024
SERVICES = ["ingest", "acl_mediator", "processor", "sender", "websocket", "processor-metrics"]
LINE_BYTES = 8000  # one header's value: under the 8 KiB line limits of websockets and aiohttp
ENDLESS_BYTES = 64 * MIB
HOLDERS, HELD_LINES = 48, 120  # 48 clients x ~0.94 MiB of headers, never finished
MAX_GROWTH_BYTES = 16 * MIB  # the held headers alone are 45 MiB
ANSWER_TIMEOUT_S = 2.0


def _env(database_url: str, amqp_url: str, tmp_path: Path) -> dict[str, str]:
    """What any of the five needs; each reads only its own settings."""
    modules = tmp_path / "acl-modules.yaml"
    modules.write_text("modules: {}\n", encoding="utf-8")
    return {
        **ingest_env(database_url, amqp_url),
        "HERALD_MEDIATOR_URL": "http://127.0.0.1:9",
        "HERALD_MEDIATOR_API_KEY": MEDIATOR_KEY,
        "HERALD_ACL_MODULES_FILE": str(modules),
        "HERALD_WS_FEEDS_FILE": str(FEEDS),
        "HERALD_WS_ALLOWED_ORIGINS": json.dumps([ORIGIN]),
    }


class Target:
    """Where to knock: a service's own port, or its separate metrics listener."""

    def __init__(self, name: str) -> None:
        self.service, _, self.listener = name.partition("-")
        self.port, self.metrics_port = free_port(), free_port()
        metrics = self.listener == "metrics"
        self.path = b"/metrics" if metrics else b"/healthz"
        self.refusals = {431}

    @property
    def knock_port(self) -> int:
        return self.metrics_port if self.listener else self.port

    def env(self) -> dict[str, str]:
        if not self.listener:
            return {}
        return {"HERALD_METRICS_PORT": str(self.metrics_port), "HERALD_METRICS_HOST": "127.0.0.1"}

    def head(self, lines: int, *, end: bool = True) -> bytes:
        pad = b"a" * LINE_BYTES
        fields = b"".join(b"X-Pad-%d: %s\r\n" % (i, pad) for i in range(lines))
        start = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % self.path
        return start + fields + (b"\r\n" if end else b"")


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(ANSWER_TIMEOUT_S)
    return sock


def _answer(sock: socket.socket) -> int | None:
    """The response's status; 0 if the server closed without one; None if it still waits."""
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        return None
    except ConnectionError:
        pass
    return int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else 0


def _one_shot(port: int, head: bytes) -> int | None:
    with _connect(port) as sock:
        sock.sendall(head)
        return _answer(sock)


def _endless(port: int, path: bytes) -> tuple[int | None, int, float]:
    """A header that never ends: (the answer, bytes the server took in, seconds)."""
    started, sent, chunk = time.monotonic(), 0, b"a" * 65536
    with _connect(port) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " % path)
        try:
            while sent < ENDLESS_BYTES:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:  # reset, broken pipe, or a server that stopped reading
            pass
        return _answer(sock), sent, time.monotonic() - started


def _held_answers(target: Target, pid: int) -> tuple[list[int | None], int]:
    """HOLDERS clients send ~1 MiB of headers each and keep the connection open: their
    answers, and the server's peak memory meanwhile."""
    socks = [_connect(target.knock_port) for _ in range(HOLDERS)]
    try:
        for sock in socks:
            with contextlib.suppress(OSError):  # a refusal may reset the connection
                sock.sendall(target.head(HELD_LINES, end=False))
        time.sleep(0.5)  # let the server read what it will
        peak = _status_kib(pid, "VmHWM") * 1024
        return [_answer(sock) for sock in socks], peak
    finally:
        for sock in socks:
            sock.close()


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _reset_peak(pid: int) -> int:
    """Reset the kernel's high-water mark of the process's RSS; the current RSS in bytes."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status_kib(pid, "VmRSS") * 1024


@pytest.mark.parametrize("name", SERVICES)
async def test_request_heads_are_capped(
    name: str, database_url: str, amqp_url: str, tmp_path: Path
) -> None:
    target = Target(name)
    under, over = 7, 9  # 56 KB and 72 KB of headers
    assert len(target.head(under)) < MAX_HEADER_BYTES < len(target.head(over))
    env = {**_env(database_url, amqp_url, tmp_path), **target.env()}
    log = tmp_path / f"{name}.log"
    async with herald_process(target.service, env, log, target.port) as proc:
        port = target.knock_port
        assert _one_shot(port, target.head(under)) == 200
        assert _one_shot(port, target.head(over)) == 431
        before = _reset_peak(proc.pid)
        answer, taken, seconds = _endless(port, target.path)
        assert answer in target.refusals | {0}, answer
        assert taken < 16 * MIB and seconds < 2.0, (taken, seconds)
        answers, peak = _held_answers(target, proc.pid)
        assert set(answers) <= target.refusals | {0}, answers  # all refused, none waiting
        assert peak - before < MAX_GROWTH_BYTES, (peak - before) / MIB
        assert _one_shot(port, target.head(1)) == 200  # and it still serves
