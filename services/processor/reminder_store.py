"""The reminders' two reads whose statement differs by database: the scheduled reminders of a
batch's entities (reminders.py) and the claim of due ones (reminder_firing.py). One interface;
:func:`reminder_store` picks the implementation.

* PostgreSQL: prepared statements on the transaction's asyncpg connection (pgsql.py), the
  entities as arrays, the claim ``FOR UPDATE SKIP LOCKED``: a second processor skips the rows.
* Portable (SQLite): SQLAlchemy statements; no row locks, so the claim takes the database's
  write lock first (libs/common/db/locks.py's ``lock_for_claim``, as escalations do).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.dialect import for_dialect
from libs.common.db.locks import lock_for_claim
from libs.common.db.models import Reminder
from libs.common.db.tables import table_of
from services.processor import pgsql

SCHEDULED, SENT, CANCELLED = "scheduled", "sent", "cancelled"
REMINDERS = table_of(Reminder)  # Core: executemany
EntityKey = tuple[str, str, str, str]  # (tenant, source, entity_type, entity_id)
_COLUMNS = "id, tenant, subscription_id, user_id, source, entity_type, entity_id, project_id, due"
CLAIM_SQL = (
    f"SELECT {_COLUMNS}, event_id FROM reminders WHERE status = 'scheduled' AND fire_at <= $1 "
    "ORDER BY fire_at LIMIT $2 FOR UPDATE SKIP LOCKED"
)


@dataclass(frozen=True)
class Due:
    id: int
    tenant: str
    subscription_id: int
    user_id: str
    source: str
    entity_type: str
    entity_id: str
    project_id: str | None
    due: str
    event_id: str


class ReminderStore(Protocol):
    async def scheduled(
        self, session: AsyncSession, entities: list[EntityKey]
    ) -> dict[EntityKey, dict[int, int]]:
        """The scheduled reminders of these entities: entity → subscription id → reminder id
        (every entity a key, with no reminder an empty one)."""

    async def claim_due(self, session: AsyncSession, now: datetime, limit: int) -> list[Due]:
        """Up to ``limit`` scheduled reminders due at ``now``, held until the commit."""


class OnPostgresql:
    async def scheduled(
        self, session: AsyncSession, entities: list[EntityKey]
    ) -> dict[EntityKey, dict[int, int]]:
        found: dict[EntityKey, dict[int, int]] = {k: {} for k in entities}
        conn = await pgsql.driver(session)
        keys = pgsql.columns(entities, 4)
        for i, sub_id, reminder_id in await pgsql.fetch(conn, pgsql.SCHEDULED_REMINDERS_SQL, *keys):
            found[entities[i - 1]][sub_id] = reminder_id
        return found

    async def claim_due(self, session: AsyncSession, now: datetime, limit: int) -> list[Due]:
        conn = await pgsql.driver(session)
        return [Due(*r) for r in await pgsql.fetch(conn, CLAIM_SQL, now, limit)]


class Portable:
    async def scheduled(
        self, session: AsyncSession, entities: list[EntityKey]
    ) -> dict[EntityKey, dict[int, int]]:
        found: dict[EntityKey, dict[int, int]] = {k: {} for k in entities}
        r = Reminder
        stmt = select(r.tenant, r.source, r.entity_type, r.entity_id, r.subscription_id, r.id)
        stmt = stmt.where(
            r.status == SCHEDULED,
            tuple_(r.tenant, r.source, r.entity_type, r.entity_id).in_(entities),
        )
        for tenant, source, entity_type, entity_id, sub_id, reminder_id in (
            await session.execute(stmt)
        ).all():
            found[(tenant, source, entity_type, entity_id)][sub_id] = reminder_id
        return found

    async def claim_due(self, session: AsyncSession, now: datetime, limit: int) -> list[Due]:
        r = REMINDERS.c
        due = (r.status == SCHEDULED, r.fire_at <= now)
        await lock_for_claim(session, REMINDERS, *due)
        stmt = (
            select(r.id, r.tenant, r.subscription_id, r.user_id, r.source, r.entity_type,
                   r.entity_id, r.project_id, r.due, r.event_id)
            .where(*due)
            .order_by(r.fire_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )  # fmt: skip
        return [Due(**row._asdict()) for row in (await session.execute(stmt)).all()]


ON_POSTGRESQL: ReminderStore = OnPostgresql()
PORTABLE: ReminderStore = Portable()


def reminder_store(session: AsyncSession) -> ReminderStore:
    return for_dialect(session, postgresql=ON_POSTGRESQL, portable=PORTABLE)
