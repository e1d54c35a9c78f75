"""PostgreSQL fast paths for the processor's per-batch reads.

A batch asks for hundreds of people and subscription ids at once. SQLAlchemy renders an
expanding ``IN`` with one bind parameter per value (and compiles it anew for every list
length); on PostgreSQL the same question is one cached prepared statement over an array
(``= ANY($1)`` / ``unnest``), run on the transaction's own asyncpg connection
(``libs/common/db/raw.py`` begins the transaction first: a raw statement before SQLAlchemy's
lazy BEGIN would autocommit). Measured on the matching benchmark: statement building was a
third of the processor's CPU. Other databases (SQLite, embedded) use the portable SQLAlchemy
statements in the callers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.raw import driver_connection

# Two index probes on (tenant, source, entity_type, project_id): the event's own project, and
# the project-wide subscriptions (project_id IS NULL). One row per key, saying which key it
# answers (project-wide or not, and the key's 1-based position) instead of repeating the key's
# text, with the ids in id order and their versions (updated_at in microseconds) as two arrays:
# one record per subscription, ~6,000 per batch of 50 events, cost more to decode than the rest
# of matching (services/processor/candidate_rows.py).
_VERSION = "(EXTRACT(EPOCH FROM s.updated_at) * 1000000)::int8"
SUBSCRIPTION_KEYS_SQL = f"""
SELECT false, k.i, array_agg(s.id ORDER BY s.id), array_agg({_VERSION} ORDER BY s.id)
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS k(t, s, e, p, i)
JOIN subscriptions s ON s.tenant = k.t AND s.source = k.s AND s.entity_type = k.e
 AND s.project_id = k.p
WHERE s.enabled
GROUP BY k.i
UNION ALL
SELECT true, k.i, array_agg(s.id ORDER BY s.id), array_agg({_VERSION} ORDER BY s.id)
FROM unnest($5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS k(t, s, e, i)
JOIN subscriptions s ON s.tenant = k.t AND s.source = k.s AND s.entity_type = k.e
 AND s.project_id IS NULL
WHERE s.enabled
GROUP BY k.i"""
SUBSCRIPTIONS_SQL = (
    "SELECT id, user_id, filter, channels, types, remind, updated_at FROM subscriptions "
    "WHERE id = ANY($1)"
)
# attributes: NULL for the usual empty object, which then costs no JSON decoding (read as {})
PEOPLE_SQL = (
    "SELECT user_id, email, telegram_chat_id, locale, timezone, roles, company_id, manager_id, "
    "NULLIF(attributes, '{}'::jsonb), phone FROM recipients "
    "WHERE tenant = $1 AND user_id = ANY($2::text[])"
)
# the scheduled reminders of a batch's entities (services/processor/reminders.py)
SCHEDULED_REMINDERS_SQL = """
SELECT k.i, r.subscription_id, r.id
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS k(t, s, e, x, i)
JOIN reminders r ON r.tenant = k.t AND r.source = k.s AND r.entity_type = k.e
 AND r.entity_id = k.x
WHERE r.status = 'scheduled'"""
MEMBERSHIPS_SQL = (
    "SELECT user_id, project_id, roles, company_id FROM recipient_projects "
    "WHERE tenant = $1 AND user_id = ANY($2::text[])"
)
PREFERENCES_SQL = (
    "SELECT user_id, source, channel, mode FROM channel_preferences "
    "WHERE tenant = $1 AND user_id = ANY($2::text[])"
)
DIGEST_CHANNELS_SQL = (
    "SELECT user_id, channel FROM digest_schedules "
    "WHERE tenant = $1 AND user_id = ANY($2::text[]) AND enabled"
)


_HELD = "herald.processor.driver"  # session.info: (the transaction, its asyncpg connection)


async def driver(session: AsyncSession) -> Any | None:
    """The asyncpg connection inside this session's transaction; None off PostgreSQL.

    Asked ~12 times per batch; reaching it through SQLAlchemy (a greenlet hop each time) was
    2 % of the processor's CPU, so it is kept for the session's transaction: the same
    SessionTransaction, still in a transaction, is the same connection."""
    transaction = session.sync_session.get_transaction()
    held = session.info.get(_HELD)
    if (
        held is not None
        and transaction is not None
        and held[0] is transaction
        and held[1].is_in_transaction()
    ):
        return held[1]
    conn = await driver_connection(session)
    if conn is not None:
        session.info[_HELD] = (session.sync_session.get_transaction(), conn)
    return conn


async def fetch(conn: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return [tuple(record) for record in await conn.fetch(sql, *args)]


def columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows → one list per column (the arrays ``unnest`` takes)."""
    return [[row[i] for row in rows] for i in range(width)]
