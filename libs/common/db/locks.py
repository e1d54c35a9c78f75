"""Named locks held until the transaction ends, so replicas do not do the same work twice.

On PostgreSQL a transaction-scoped advisory lock, keyed by the first 8 bytes of the name's
SHA-256 (a 64-bit key: no two of Herald's names collide in practice). SQLite has no such
lock and needs none: it runs in one process (``herald dev``), so the lock is always granted.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
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
