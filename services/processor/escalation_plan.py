"""Planning a critical notification's escalation chain (DESIGN §6), in the caller's
transaction: one ``planned`` row per step, written with the notification, each due at the
step's delay after it. escalation_firing.py takes them from there."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypedDict

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Escalation
from libs.common.db.tables import table_of
from services.processor.pipeline import Loaded, PersonPlan

PLANNED, SENT, SKIPPED, STOPPED = "planned", "sent", "skipped", "stopped"
ESCALATIONS = table_of(Escalation)  # Core: executemany


class EscalationRow(TypedDict):
    tenant: str
    notification_id: int
    step: int
    channel: str
    after_minutes: int
    fire_at: datetime
    status: str
    reason: str
    delivery_id: int | None
    created_at: datetime
    updated_at: datetime


def escalation_rows(
    event: Loaded, pp: PersonPlan, notification_id: int, now: datetime
) -> list[EscalationRow]:
    return [
        {
            "tenant": event.env.tenant,
            "notification_id": notification_id,
            "step": i,
            "channel": step.channel,
            "after_minutes": step.after_minutes,
            "fire_at": now + timedelta(minutes=step.after_minutes),
            "status": PLANNED,
            "reason": "",
            "delivery_id": None,
            "created_at": now,
            "updated_at": now,
        }
        for i, step in enumerate(pp.escalation, start=1)
    ]


async def insert_escalations(session: AsyncSession, rows: Sequence[EscalationRow]) -> None:
    if rows:
        await session.execute(insert(ESCALATIONS), list(rows))
