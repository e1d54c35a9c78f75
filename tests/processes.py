"""A Herald service as a real process (`herald run <service>`), for tests that SIGKILL it."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.apps import eventually

READY_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def herald_process(
    service: str, env: dict[str, str], log: Path, port: int | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Started (on ``port``, else a free one) and answering ``/healthz``; killed on the way
    out if still running."""
    port = port or free_port()
    cmd = [
        sys.executable,
        "-m",
        "herald",
        "run",
        service,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *cmd, env={**os.environ, **env}, stdout=out, stderr=out
        )
    try:

        async def healthy() -> bool:
            assert proc.returncode is None, log.read_text()[-2000:]
            try:
                async with httpx.AsyncClient() as client:
                    resp = await client.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                return resp.status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(healthy, timeout_s=READY_TIMEOUT_S, interval_s=0.2)
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
