"""Writing a batch's notifications and deliveries: two multi-row INSERTs, in the caller's
transaction.

On PostgreSQL each INSERT is one prepared statement over column arrays (``unnest``), sent
on the transaction's own asyncpg connection: a batch of 50 events (150 notifications, 300
deliveries) costs two round trips, where building and binding 13 parameters per row through
the ORM cost more than everything else the processor does. Most of a row repeats: an event's
nine columns on each of its notifications, the one rendered text every subscriber of the event
gets, a handful of (source, channel, status) on the deliveries. Those values go once each, in
small side tables (``GROUPS``) that each row points into by number, and the INSERT joins them
back: half the values to encode (asyncpg spends ~0.3 µs on each array element) and to send.
Other databases (SQLite, embedded) take SQLAlchemy's portable multi-row INSERT … RETURNING.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Delivery, DeliveryRow, Notification
from libs.common.db.tables import table_of
from services.processor.pgsql import driver
from services.processor.pipeline import NotificationRow

Columns = dict[str, str]  # column → its PostgreSQL type
NOTIFICATIONS = table_of(Notification)  # Core: the portable multi-row INSERT
DELIVERIES = table_of(Delivery)

NOTIFICATION_COLUMNS: dict[str, str] = {
    "tenant": "text",
    "event_id": "text",
    "user_id": "text",
    "reason": "text",
    "source": "text",
    "type": "text",
    "entity_type": "text",
    "entity_id": "text",
    "project_id": "text",
    "priority": "text",
    "title": "text",
    "body": "text",
    "created_at": "timestamptz",
}
DELIVERY_COLUMNS: dict[str, str] = {
    "notification_id": "bigint",
    "tenant": "text",
    "user_id": "text",
    "source": "text",
    "channel": "text",
    "status": "text",
    "reason": "text",
    "subject": "text",
    "body": "text",
    "body_html": "text",
    "attempts": "int",
    "next_attempt_at": "timestamptz",
    "created_at": "timestamptz",
}


# Per table: the columns each row sends, then groups of columns sent once per distinct value.
NOTIFICATION_ROW: Columns = {"user_id": "text", "reason": "text"}
NOTIFICATION_GROUPS: tuple[Columns, ...] = (
    {k: NOTIFICATION_COLUMNS[k] for k in ("tenant", "event_id", "source", "type", "entity_type",
                                          "entity_id", "project_id", "priority", "created_at")},
    {"title": "text", "body": "text"},
)  # fmt: skip
DELIVERY_ROW: Columns = {"notification_id": "bigint", "user_id": "text", "reason": "text"}
DELIVERY_GROUPS: tuple[Columns, ...] = (
    {k: DELIVERY_COLUMNS[k] for k in ("tenant", "source", "channel", "status", "attempts",
                                      "next_attempt_at", "created_at")},
    {"subject": "text", "body": "text", "body_html": "text"},
)  # fmt: skip


def _grouped_sql(
    table: str, columns: Columns, row: Columns, groups: Sequence[Columns], returning: str
) -> str:
    """INSERT … SELECT joining each row (its group numbers, then ``row``'s columns) to the
    groups' arrays, in the rows' order."""
    assert set(columns) == set(row).union(*groups), table
    params = iter(range(1, 1000))
    refs = [f"g{n}" for n in range(len(groups))]
    where = {name: f"r.{name}" for name in row}
    arrays = [f"${next(params)}::int[]" for _ in groups]
    arrays += [f"${next(params)}::{kind}[]" for kind in row.values()]
    sources = [f"unnest({', '.join(arrays)}) WITH ORDINALITY AS r({', '.join([*refs, *row])}, i)"]
    for ref, group in zip(refs, groups, strict=True):
        where |= {name: f"{ref}.{name}" for name in group}
        group_arrays = ", ".join(f"${next(params)}::{kind}[]" for kind in group.values())
        sources.append(
            f"JOIN unnest({group_arrays}) WITH ORDINALITY AS {ref}({', '.join(group)}, i) "
            f"ON {ref}.i = r.{ref}"
        )
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(where[name] for name in columns)} FROM {' '.join(sources)} "
        f"ORDER BY r.i RETURNING {returning}"
    )


NOTIFICATIONS_SQL = _grouped_sql(
    "notifications", NOTIFICATION_COLUMNS, NOTIFICATION_ROW, NOTIFICATION_GROUPS,
    "id, event_id, user_id",
)  # fmt: skip
DELIVERIES_SQL = _grouped_sql(
    "deliveries", DELIVERY_COLUMNS, DELIVERY_ROW, DELIVERY_GROUPS, "id, status"
)


def grouped_arrays(
    rows: Sequence[Mapping[str, object]], row: Columns, groups: Sequence[Columns]
) -> list[list[Any]]:
    """The statement's parameters: per row its group numbers (1-based) and own columns, then
    each group's distinct values, column by column."""
    numbers: list[list[int]] = [[] for _ in groups]
    seen: list[dict[tuple[Any, ...], int]] = [{} for _ in groups]
    keys = [itemgetter(*group) for group in groups]  # each group has two columns or more
    for found, known, key_of in zip(numbers, seen, keys, strict=True):
        for values in rows:
            key = key_of(values)
            number = known.get(key)
            if number is None:
                number = known[key] = len(known) + 1
            found.append(number)
    own = [[values[name] for values in rows] for name in row]
    tables = [[list(column) for column in zip(*known, strict=True)] for known in seen]
    return [*numbers, *own, *(column for table in tables for column in table)]


async def _insert(
    session: AsyncSession,
    table: Table,
    sql: str,
    layout: tuple[Columns, Sequence[Columns]],
    rows: Sequence[Mapping[str, object]],
    returning: Sequence[str],
) -> Sequence[Sequence[Any]]:
    if not rows:
        return []
    conn = await driver(session)
    if conn is not None:
        return await conn.fetch(sql, *grouped_arrays(rows, *layout))  # type: ignore[no-any-return]
    stmt = insert(table).returning(*(table.c[name] for name in returning))
    return (await session.execute(stmt, list(rows))).all()


async def insert_notifications(
    session: AsyncSession, rows: Sequence[NotificationRow]
) -> list[tuple[int, str, str]]:
    """(id, event_id, user_id) for every row."""
    cols = ("id", "event_id", "user_id")
    layout = (NOTIFICATION_ROW, NOTIFICATION_GROUPS)
    found = await _insert(session, NOTIFICATIONS, NOTIFICATIONS_SQL, layout, rows, cols)
    return [(int(i), str(e), str(u)) for i, e, u in found]


async def insert_deliveries(
    session: AsyncSession, rows: Sequence[DeliveryRow]
) -> list[tuple[int, str]]:
    """(id, status) for every row."""
    layout = (DELIVERY_ROW, DELIVERY_GROUPS)
    found = await _insert(session, DELIVERIES, DELIVERIES_SQL, layout, rows, ("id", "status"))
    return [(int(i), str(s)) for i, s in found]
