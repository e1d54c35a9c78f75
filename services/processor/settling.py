"""Ending planned rows — due reminders, escalation steps — in one executemany UPDATE, in the
caller's transaction (flush only).

Both tables record a planned row's end alike: ``status``, ``reason``, the row it became (a
reminder's notification, an escalation step's delivery) and ``updated_at``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession


class Settled(TypedDict):
    """A planned row's end, bound into the settling update (the bind names are not the column
    names: SQLAlchemy reserves those for the SET clause)."""

    row: int
    to: str  # the new status
    why: str
    became: int | None  # the notification (a reminder) or delivery (a step) it became


async def settle(
    session: AsyncSession, table: Table, became: str, settled: list[Settled], now: datetime
) -> None:
    """Write each row's end; ``became`` names the column that keeps what the row became."""
    if not settled:
        return
    stmt = (
        update(table)
        .where(table.c.id == bindparam("row"))
        .values({"status": bindparam("to"), "reason": bindparam("why"),
                 became: bindparam("became"), "updated_at": now})
    )  # fmt: skip
    await session.execute(stmt, settled)
