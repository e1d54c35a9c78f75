"""Locks held until the transaction ends, so replicas do not do the same work twice.

* Named locks: on PostgreSQL a transaction-scoped advisory lock, keyed by the first 8 bytes of
  the name's SHA-256 (a 64-bit key: no two of Herald's names collide in practice). SQLite has
  no such lock and needs none: it runs in one process (``herald dev``), so the lock is always
  granted.
* Claims (:func:`lock_for_claim`): a claim reads its rows ``FOR UPDATE SKIP LOCKED`` on every
  database (SQLite renders no ``FOR UPDATE``); on SQLite, which has no row locks, the claim
  first takes the database's write lock.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import ColumnElement, Table, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.dialect import on_postgresql


def lock_key(name: str) -> int:
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def try_transaction_lock(session: AsyncSession, name: str) -> bool:
    """Take the lock called ``name`` until this transaction ends, without waiting; False when
    another transaction holds it."""
    if not on_postgresql(session):
        return True
    taken = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(name)}
    )
    return bool(taken)


async def lock_for_claim(session: AsyncSession, table: Table, *where: ColumnElement[bool]) -> None:
    """Call before a claim's ``SELECT … WHERE <where> FOR UPDATE SKIP LOCKED`` on ``table``.

    PostgreSQL: nothing to do; the SELECT holds the rows it returns and skips the rows another
    transaction holds. SQLite has no row locks: a no-op UPDATE of those rows takes the
    database's write lock first, so a second claimer waits for this transaction to end and
    then finds the rows already taken, rather than reading them too."""
    if on_postgresql(session):
        return
    key = next(iter(table.primary_key.columns))
    await session.execute(update(table).where(*where).values({key.name: key}))
