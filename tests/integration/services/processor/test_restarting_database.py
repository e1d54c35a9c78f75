"""A PostgreSQL restarting (crash recovery) is an outage, not the event's fault.

Found by the chaos suite: while PostgreSQL replays its WAL it refuses connections with
SQLSTATE 57P03 "the database system is starting up", which reaches the processor as a plain
``DBAPIError``. It used to count as a failed attempt, so a slow enough recovery could mark
healthy events ``failed`` for good. The server here speaks just enough of the PostgreSQL
protocol to give that real refusal to the real driver.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import make_engine
from libs.common.db.models import Event
from services.processor.worker import is_transient
from tests.integration.services.processor.support import event, processor, store

NO_ENCRYPTION = b"N"
ENCRYPTION_REQUESTS = {80877103, 80877104}  # SSLRequest, GSSENCRequest
STARTING_UP = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0"


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer encryption requests with "no", the startup message with 57P03, then hang up."""
    try:
        while True:
            length, code = struct.unpack("!II", await reader.readexactly(8))
            await reader.readexactly(length - 8)
            if code not in ENCRYPTION_REQUESTS:
                break
            writer.write(NO_ENCRYPTION)
        writer.write(b"E" + struct.pack("!I", len(STARTING_UP) + 4) + STARTING_UP)
        await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def starting_up_url() -> AsyncIterator[str]:
    server = await asyncio.start_server(_refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/herald"


async def refusal(url: str) -> Exception:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("the starting-up server accepted a connection")


async def test_a_database_starting_up_is_an_outage(starting_up_url: str) -> None:
    exc = await refusal(starting_up_url)
    assert "starting up" in str(exc)
    assert is_transient(exc)


async def test_the_failure_is_recorded_without_using_an_attempt(
    starting_up_url: str, database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    event_id = await store(sessions, event())
    worker = await processor(sessions, database_url, processor_max_attempts=1)
    for _ in range(3):  # three sweeps during a long recovery
        await worker._record_failure(event_id, await refusal(starting_up_url))
    async with sessions() as session:
        row = await session.scalar(select(Event).where(Event.id == event_id))
    assert row is not None
    assert (row.status, row.attempts) == ("received", 0)  # still waiting to be processed
    assert "starting up" in (row.error or "")
