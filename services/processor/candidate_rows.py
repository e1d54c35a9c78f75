"""Which subscriptions each event key has, read for a whole batch (DESIGN §5.2): the
enabled subscriptions of each key's own project and each (tenant, source, entity_type)'s
project-wide ones, as ids and row versions only (``matching.py`` keeps them compiled).

A row's version is its ``updated_at`` in microseconds since the epoch. On PostgreSQL one
statement answers every key with one row per key holding two arrays (ids in id order, their
versions): ~6,000 subscriptions per batch of 50 events, and decoding them as 6,000 records of
a ``timestamptz`` each was ~0.7 µs per subscription, the arrays of integers ~0.15.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Subscription
from services.processor import pgsql

MatchKey = tuple[str, str, str, str | None]  # (tenant, source, entity_type, project_id)
Triple = tuple[str, str, str]  # (tenant, source, entity_type)
# (project-wide?, 1-based position of its key in ``triples`` or ``own``, ids, versions)
KeyRow = tuple[bool, int, Sequence[int], Sequence[int]]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def version(updated_at: datetime | int) -> int:
    """A row's ``updated_at`` as PostgreSQL's ``EXTRACT(EPOCH …) * 1000000`` gives it (SQLite
    hands back naive UTC)."""
    if isinstance(updated_at, int):
        return updated_at
    if updated_at.tzinfo is None:
        updated_at = updated_at.replace(tzinfo=UTC)
    return (updated_at - EPOCH) // MICROSECOND


async def key_rows(
    session: AsyncSession, own: list[MatchKey], triples: list[Triple]
) -> list[KeyRow]:
    """For each key of ``own`` (with a project) and each triple (project-wide), the ids and
    versions of its enabled subscriptions, in id order; keys without any are left out."""
    conn = await pgsql.driver(session)
    if conn is not None:
        args = (*pgsql.columns(own, 4), *pgsql.columns(triples, 3))
        return [tuple(r) for r in await conn.fetch(pgsql.SUBSCRIPTION_KEYS_SQL, *args)]
    s = Subscription
    cols = (s.id, s.tenant, s.source, s.entity_type, s.project_id, s.updated_at)
    stmts = [select(*cols).where(
        s.enabled.is_(True), s.project_id.is_(None),
        tuple_(s.tenant, s.source, s.entity_type).in_(triples),
    )]  # fmt: skip
    if own:
        stmts.append(select(*cols).where(
            s.enabled.is_(True), tuple_(s.tenant, s.source, s.entity_type, s.project_id).in_(own)
        ))  # fmt: skip
    where = {k: i for i, k in enumerate(own, 1)} | {t: i for i, t in enumerate(triples, 1)}
    found: dict[tuple[bool, int], list[tuple[int, int]]] = defaultdict(list)
    for stmt in stmts:
        for sub_id, tenant, source, entity_type, project_id, updated_at in (
            await session.execute(stmt)
        ).all():
            key: Any = (tenant, source, entity_type)
            if project_id is not None:
                key = (*key, project_id)
            found[(project_id is None, where[key])].append((sub_id, version(updated_at)))
    return [
        (wide, i, [sub_id for sub_id, _ in subs], [v for _, v in subs])
        for (wide, i), subs in ((k, sorted(v)) for k, v in found.items())
    ]
