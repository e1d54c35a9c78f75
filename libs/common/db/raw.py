"""The asyncpg connection under a session's transaction: the one way to reach the driver.

Raw asyncpg statements skip SQLAlchemy's statement building (a third of the processor's CPU on
the matching benchmark), but SQLAlchemy's asyncpg adapter sends its BEGIN lazily, with the
first statement *it* executes. A raw statement issued before that runs in autocommit: a
``FOR UPDATE SKIP LOCKED`` claim holds no lock and a rolled-back batch leaves its rows behind
(DESIGN §5). So this helper makes SQLAlchemy begin first, and refuses a connection that is not
in a transaction (an AUTOCOMMIT session) rather than hand it out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.dialect import on_postgresql


class NotInTransaction(RuntimeError):
    """The session's connection is in autocommit: raw statements would not be atomic."""


async def driver_connection(session: AsyncSession) -> Any | None:
    """The asyncpg connection inside this session's open transaction; None off PostgreSQL."""
    if not on_postgresql(session):
        return None
    conn = await session.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    if raw is None:
        raise NotInTransaction("the session's connection has been closed")
    if not raw.is_in_transaction():
        # one round trip per transaction, only when a raw statement comes first
        await conn.exec_driver_sql("SELECT 1")
    if not raw.is_in_transaction():
        raise NotInTransaction(
            "raw asyncpg statements need a transaction; this session is in autocommit"
        )
    return raw
