"""A throwaway PostgreSQL database and RabbitMQ vhost for one benchmark run, removed after.

Benchmarks read HERALD_BENCH_DATABASE_URL / HERALD_BENCH_AMQP_URL (defaults: the local servers).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from tests.processes import free_port

SERVER_URL = os.environ.get(
    "HERALD_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("HERALD_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def raw_dsn(url: str) -> str:
    """asyncpg's DSN for an SQLAlchemy URL."""
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _rabbitmqctl(*args: str) -> None:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError("rabbitmqctl is needed to create a throwaway vhost")
    subprocess.run([ctl, "-q", *args], check=True, capture_output=True, timeout=60)


@asynccontextmanager
async def throwaway(prefix: str) -> AsyncIterator[tuple[str, str]]:
    """Yields (database URL, AMQP URL) of a fresh empty database and vhost named alike."""
    name = f"herald_bench_{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(raw_dsn(SERVER_URL))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await asyncio.to_thread(_rabbitmqctl, "add_vhost", name)
    amqp = urlsplit(AMQP_URL)
    user = amqp.username or "guest"
    await asyncio.to_thread(_rabbitmqctl, "set_permissions", "-p", name, user, ".*", ".*", ".*")
    db = urlsplit(SERVER_URL)
    try:
        yield (
            urlunsplit((db.scheme, db.netloc, f"/{name}", db.query, "")),
            urlunsplit((amqp.scheme, amqp.netloc, "/" + quote(name, safe=""), "", "")),
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        await asyncio.to_thread(_rabbitmqctl, "delete_vhost", name)


@contextmanager
def server_process(target: Callable[[int, Any], None], what: str) -> Iterator[int]:
    """``target(port, ready)`` in a process of its own (spawned: no shared loop or CPU time
    with the measured side); yields the port once the server set ``ready``, stops it after."""
    port = free_port()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    server = ctx.Process(target=target, args=(port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(60):
            raise RuntimeError(f"{what} did not start")
        yield port
    finally:
        server.terminate()
        server.join(10)


def serve_forever(app: Any, port: int, ready: Any) -> None:
    """Run an aiohttp ``app`` on 127.0.0.1:``port`` until killed; set ``ready`` once it
    listens (the body of a ``server_process`` target)."""
    from aiohttp import web

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(serve())
