"""The two batch writes of a digest build whose best statement differs by database: marking
the items a digest took, and advancing the schedules. One statement for the whole batch either
way — set-based over arrays on PostgreSQL, one UPDATE per digest or executemany on SQLite.
:func:`digest_writes` picks the implementation; store.py calls it without asking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.dialect import for_dialect
from libs.common.db.models import Delivery, DeliveryStatus, DigestSchedule
from libs.common.db.tables import table_of
from services.sender.digests.collect import Key

DELIVERIES = table_of(Delivery)
SCHEDULES = table_of(DigestSchedule)


@dataclass(frozen=True)
class Advance:
    key: Key
    window_start: datetime
    next_run_at: datetime | None
    now: datetime


class DigestWrites(Protocol):
    async def mark_digested(self, session: AsyncSession, taken: Mapping[int, list[int]]) -> int:
        """Each digest's items (digest id → its deliveries) from DIGEST to DIGESTED, pointing
        at it; returns how many moved (an item someone else took does not)."""

    async def advance(self, session: AsyncSession, rows: Sequence[Advance]) -> None:
        """Each schedule's new window start and next run (``rows`` not empty)."""


# PostgreSQL: one set-based statement for the whole batch (≈ 4× faster than executemany for
# 4,000 rows); its row count proves every item moved (the status guard skips an item that
# someone else took, and the count catches that).
_MARK_PG = text(
    "UPDATE deliveries SET status = 'DIGESTED', digest_id = v.dg "
    "FROM unnest(CAST(:ids AS BIGINT[]), CAST(:dgs AS BIGINT[])) AS v(id, dg) "
    "WHERE deliveries.id = v.id AND deliveries.status = 'DIGEST'"
)
_ADVANCE_PG = text(
    "UPDATE digest_schedules SET window_start = v.ws, next_run_at = v.nr, updated_at = :now "
    "FROM unnest(CAST(:t AS VARCHAR[]), CAST(:u AS VARCHAR[]), CAST(:c AS VARCHAR[]), "
    "CAST(:ws AS TIMESTAMPTZ[]), CAST(:nr AS TIMESTAMPTZ[])) AS v(t, u, c, ws, nr) "
    "WHERE tenant = v.t AND user_id = v.u AND channel = v.c"
)


class SetBased:
    """PostgreSQL: the batch as arrays, ``unnest``-ed in one UPDATE each."""

    async def mark_digested(self, session: AsyncSession, taken: Mapping[int, list[int]]) -> int:
        pairs = [(item, digest) for digest, items in taken.items() for item in items]
        ids, dgs = [p[0] for p in pairs], [p[1] for p in pairs]
        done = await session.execute(_MARK_PG, {"ids": ids, "dgs": dgs})
        return int(done.rowcount)  # type: ignore[attr-defined]

    async def advance(self, session: AsyncSession, rows: Sequence[Advance]) -> None:
        columns = list(zip(*[(*r.key, r.window_start, r.next_run_at) for r in rows], strict=True))
        names = ("t", "u", "c", "ws", "nr")
        await session.execute(
            _ADVANCE_PG,
            {"now": rows[0].now, **{n: list(v) for n, v in zip(names, columns, strict=True)}},
        )


class Portable:
    """SQLite (herald dev): one UPDATE per digest, the schedules by executemany."""

    async def mark_digested(self, session: AsyncSession, taken: Mapping[int, list[int]]) -> int:
        marked = 0
        for digest_id, items in taken.items():
            one = await session.execute(
                update(DELIVERIES)
                .where(
                    DELIVERIES.c.id.in_(items),
                    DELIVERIES.c.status == DeliveryStatus.DIGEST.value,
                )
                .values(status=DeliveryStatus.DIGESTED.value, digest_id=digest_id)
            )
            marked += one.rowcount  # type: ignore[attr-defined]
        return marked

    async def advance(self, session: AsyncSession, rows: Sequence[Advance]) -> None:
        c = SCHEDULES.c
        await session.execute(
            update(SCHEDULES)
            .where(c.tenant == bindparam("a_t"), c.user_id == bindparam("a_u"))
            .where(c.channel == bindparam("a_c"))
            .values(
                window_start=bindparam("a_ws"),
                next_run_at=bindparam("a_nr"),
                updated_at=bindparam("a_now"),
            ),
            [
                {
                    "a_t": r.key[0],
                    "a_u": r.key[1],
                    "a_c": r.key[2],
                    "a_ws": r.window_start,
                    "a_nr": r.next_run_at,
                    "a_now": r.now,
                }
                for r in rows
            ],
        )


SET_BASED: DigestWrites = SetBased()
PORTABLE: DigestWrites = Portable()


def digest_writes(session: AsyncSession) -> DigestWrites:
    return for_dialect(session, postgresql=SET_BASED, portable=PORTABLE)
