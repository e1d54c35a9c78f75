"""Helpers for the ingest tests: events, raw publishing, counting rows and queue depths, and a
TCP proxy in front of PostgreSQL that a test can cut and restore."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus.amqp import AmqpBus
from libs.common.bus.topology import EVENTS_EXCHANGE
from libs.common.db.models import Event, EventStatus
from services.ingest.intake.consumer import ingest_queue


def make_event(n: int = 0, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": f"ev-{n}-{uuid.uuid4().hex[:8]}",
        "source": "tenders",
        "type": "tender.requirement_added",
        "tenant": "acme",
        "entity": {"type": "tender", "id": f"T-{n}", "attributes": {"section": "basement"}},
        "recipients": {"assignee": ["u-17"]},
        "occurred_at": datetime(2026, 11, 26, 10, 0, tzinfo=UTC).isoformat(),
        "payload": {"title": f"event {n}"},
    }
    return {**event, **overrides}


async def declare_ingest_queue(amqp_url: str) -> None:
    """What a first start of ingest leaves behind: herald.ingest bound to herald.events."""
    bus = AmqpBus(amqp_url)
    await bus.connect()
    try:
        await bus.declare(ingest_queue(["#"]))
    finally:
        await bus.close()


async def publish_raw(
    amqp_url: str,
    bodies: Sequence[bytes],
    routing_key: str | None = None,
    headers: dict[str, Any] | None = None,
) -> None:
    """Publish bytes as they are (the producer client would refuse invalid ones), confirmed;
    by default under the routing key ingest expects, ``<source>.<type>`` of each body."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        for start in range(0, len(bodies), 500):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(body, headers=headers or {}, delivery_mode=2),
                        routing_key=routing_key or routing_key_of(body),
                        mandatory=True,
                    )
                    for body in bodies[start : start + 500]
                )
            )


def routing_key_of(body: bytes) -> str:
    """``<source>.<type>`` of a body that has them, a plausible key otherwise."""
    try:
        event = json.loads(body)
        return f"{event['source']}.{event['type']}"
    except (ValueError, TypeError, KeyError, RecursionError):
        return "tenders.tender.requirement_added"


async def queue_depth(amqp_url: str, queue: str) -> int:
    """Ready messages in a queue (unacked ones are not counted)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        return int(count or 0)


async def count_events(
    sessions: async_sessionmaker[AsyncSession], status: str | None = None
) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(Event)
        if status is not None:
            stmt = stmt.where(Event.status == status)
        return int(await session.scalar(stmt) or 0)


async def distinct_keys(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        stmt = select(func.count(func.distinct(Event.source_event_id))).where(
            Event.status != EventStatus.REJECTED.value
        )
        return int(await session.scalar(stmt) or 0)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` drops every connection and refuses
    new ones (as a dead database host would), ``restore()`` forwards again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()  # same port: the service's URL keeps working

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    def url_for(self, database_url: str) -> str:
        parts = urlsplit(database_url)
        userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        netloc = f"{userinfo}127.0.0.1:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


@contextlib.asynccontextmanager
async def proxy_to(database_url: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.cut()


def ingest_env(database_url: str, amqp_url: str) -> dict[str, str]:
    """The environment an operator would give `herald run ingest` (DESIGN §14)."""
    from tests.apps import API_KEY, JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, NO_MEDIATOR

    keep = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    return {
        **keep,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_AMQP_URL": amqp_url,
        "HERALD_API_KEYS": json.dumps({API_KEY: "*"}),
        "HERALD_JWT_SECRET": JWT_SECRET,
        "HERALD_JWT_AUDIENCE": JWT_AUDIENCE,
        "HERALD_JWT_ISSUER": JWT_ISSUER,
        # the user API's inbox asks the mediator; these tests only feed the consumer
        "HERALD_MEDIATOR_URL": NO_MEDIATOR,
        "HERALD_MEDIATOR_API_KEY": "test-mediator-key-0123456789",
    }


@contextlib.contextmanager
def ingest_process(
    env: dict[str, str], workdir: Path, name: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`herald run ingest` on an ephemeral port; killed on the way out whatever happened."""
    log = (workdir / f"{name}.log").open("wb")
    command = [sys.executable, "-c", "from herald.cli import main; main()", "run", "ingest"]
    proc = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", "0"],
        env=env,
        cwd=workdir,  # no stray .env file
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        log.close()


async def drain_nudges(amqp_url: str) -> list[list[str]]:
    """The processor nudges waiting in herald.process, one list of event ids per message."""
    from libs.common.bus.nudges import parse_process_nudge
    from libs.common.bus.topology import PROCESS_QUEUE

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(PROCESS_QUEUE, passive=True)
        nudges = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            nudges.append(parse_process_nudge(message.body))
        return nudges
