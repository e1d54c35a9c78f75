"""Writing a batch of built digests — flush only, in the scheduler's transaction.

Round trips matter more than anything else here (a batch is 200 digests and 4,000 items):
each step is one statement for the whole batch — set-based on PostgreSQL, executemany on
SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.engine import dialect_name
from libs.common.db.models import Delivery, DeliveryStatus, Digest, DigestSchedule
from libs.common.templates import Rendered
from services.sender.digests.collect import Item, Key

DIGEST_SOURCE = "herald"  # deliveries.source of a digest's own delivery
DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
SCHEDULES: Table = DigestSchedule.__table__  # type: ignore[assignment]


class ItemsChanged(RuntimeError):
    """A waiting item changed under a locked schedule: roll back, retry on the next tick."""


@dataclass
class Plan:
    schedule: DigestSchedule
    window_start: datetime  # taken before the schedule advances
    window_end: datetime
    items: list[Item]
    rendered: Rendered


@dataclass(frozen=True)
class Advance:
    key: Key
    window_start: datetime
    next_run_at: datetime | None
    now: datetime


async def store_digests(session: AsyncSession, plans: list[Plan], now: datetime) -> list[int]:
    """Each digest's delivery, then the digest pointing at it, then the items it took."""
    delivery_ids = list(
        await session.scalars(
            insert(Delivery).returning(Delivery.id, sort_by_parameter_order=True),
            [_delivery_row(p, now) for p in plans],
        )
    )
    digest_ids = list(
        await session.scalars(
            insert(Digest).returning(Digest.id, sort_by_parameter_order=True),
            [_digest_row(p, d, now) for p, d in zip(plans, delivery_ids, strict=True)],
        )
    )
    await _mark_digested(session, plans, digest_ids)
    return delivery_ids


# PostgreSQL: one set-based statement for the whole batch (≈ 4× faster than executemany for
# 4,000 rows); its row count proves every item moved (the status guard skips an item that
# someone else took, and the count catches that).
_MARK_PG = text(
    "UPDATE deliveries SET status = 'DIGESTED', digest_id = v.dg "
    "FROM unnest(CAST(:ids AS BIGINT[]), CAST(:dgs AS BIGINT[])) AS v(id, dg) "
    "WHERE deliveries.id = v.id AND deliveries.status = 'DIGEST'"
)


async def _mark_digested(session: AsyncSession, plans: list[Plan], digest_ids: list[int]) -> None:
    pairs = [(i.delivery_id, d) for p, d in zip(plans, digest_ids, strict=True) for i in p.items]
    if dialect_name(session) == "postgresql":
        ids, dgs = [p[0] for p in pairs], [p[1] for p in pairs]
        done = await session.execute(_MARK_PG, {"ids": ids, "dgs": dgs})
        marked = done.rowcount  # type: ignore[attr-defined]
    else:
        marked = 0
        for plan, digest_id in zip(plans, digest_ids, strict=True):
            one = await session.execute(
                update(DELIVERIES)
                .where(
                    DELIVERIES.c.id.in_([i.delivery_id for i in plan.items]),
                    DELIVERIES.c.status == DeliveryStatus.DIGEST.value,
                )
                .values(status=DeliveryStatus.DIGESTED.value, digest_id=digest_id)
            )
            marked += one.rowcount  # type: ignore[attr-defined]
    if marked != len(pairs):
        raise ItemsChanged(f"{len(pairs) - marked} waiting items changed under the build")


def _digest_row(p: Plan, delivery_id: int, now: datetime) -> dict[str, Any]:
    s = p.schedule
    return {
        "tenant": s.tenant,
        "user_id": s.user_id,
        "channel": s.channel,
        "window_start": p.window_start,
        "window_end": p.window_end,
        "status": "built",
        "item_count": len(p.items),
        "delivery_id": delivery_id,
        "created_at": now,
    }


def _delivery_row(p: Plan, now: datetime) -> dict[str, Any]:
    s, r = p.schedule, p.rendered
    return {
        "notification_id": None,
        "tenant": s.tenant,
        "user_id": s.user_id,
        "source": DIGEST_SOURCE,
        "channel": s.channel,
        "status": DeliveryStatus.PENDING.value,
        "reason": "digest",
        "subject": r.subject,
        "body": r.body,
        "body_html": r.body_html,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


_ADVANCE_PG = text(
    "UPDATE digest_schedules SET window_start = v.ws, next_run_at = v.nr, updated_at = :now "
    "FROM unnest(CAST(:t AS VARCHAR[]), CAST(:u AS VARCHAR[]), CAST(:c AS VARCHAR[]), "
    "CAST(:ws AS TIMESTAMPTZ[]), CAST(:nr AS TIMESTAMPTZ[])) AS v(t, u, c, ws, nr) "
    "WHERE tenant = v.t AND user_id = v.u AND channel = v.c"
)


async def advance(session: AsyncSession, rows: list[Advance]) -> None:
    if not rows:
        return
    if dialect_name(session) == "postgresql":
        columns = list(zip(*[(*r.key, r.window_start, r.next_run_at) for r in rows], strict=True))
        names = ("t", "u", "c", "ws", "nr")
        await session.execute(
            _ADVANCE_PG,
            {"now": rows[0].now, **{n: list(v) for n, v in zip(names, columns, strict=True)}},
        )
        return
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
