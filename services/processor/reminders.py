"""Keeping deadline reminders in step with the events (DESIGN §5.2), inside the batch's
transaction (flush only).

For every event, after matching, about its entity:

* a matching subscription with ``remind`` (re)schedules the entity's reminder at the moment
  its date says, in the subscriber's zone (libs/common/subscriptions/reminders.py); a reminder
  already sent for that same date stays sent — once per date, a moved date gets a new one;
* a subscription that follows the event's type but no longer matches cancels it, and so does
  a missing date or one whose moment has already passed;
* a scheduled reminder whose subscription no longer covers the entity at all (deleted,
  disabled, another project now) is cancelled.

An event older than the one that last set a reminder changes nothing: events of one entity
may be processed out of order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import partial
from typing import TypedDict

from sqlalchemy import and_, bindparam, not_, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.dialect import upsert
from libs.common.subscriptions.filter_subject import Subject, when
from libs.common.subscriptions.reminders import due_text, remind_at
from services.processor.matching import Candidate
from services.processor.pipeline import Loaded
from services.processor.reminder_store import (
    CANCELLED,
    REMINDERS,
    SCHEDULED,
    SENT,
    EntityKey,
    reminder_store,
)


@dataclass(frozen=True)
class Seen:
    """One event after matching: what the reminders of its entity are judged by."""

    event: Loaded
    candidates: Sequence[Candidate]  # of its key: enabled, in scope
    matched: Sequence[Candidate]  # of those, the ones whose filter holds (zones included)
    subject: Subject


class ReminderRow(TypedDict):
    """One ``reminders`` row to upsert: the reminder a matching subscription wants."""

    tenant: str
    subscription_id: int
    user_id: str
    source: str
    entity_type: str
    entity_id: str
    project_id: str | None
    due: str
    fire_at: datetime
    status: str
    reason: str
    event_id: str
    event_time: datetime
    created_at: datetime
    updated_at: datetime


class CancelParams(TypedDict):
    """One cancelled reminder's bind parameters (:func:`_cancel_all`)."""

    rid: int
    why: str
    at: datetime


Decision = tuple[datetime, ReminderRow | None, str]  # (event time, upsert row, why not)


def _entity(e: Loaded) -> EntityKey:
    env = e.env
    return (env.tenant, env.source, env.entity.type, env.entity.id)


def _row(seen: Seen, cand: Candidate, zone: tzinfo, now: datetime) -> ReminderRow | None:
    """The reminder this matching subscription wants for the entity; None without a date."""
    assert cand.remind is not None
    ref, days_before = cand.remind
    due = when(seen.subject, ref)
    if due is None:
        return None
    env = seen.event.env
    fire_at = remind_at(due, days_before, zone)
    late = fire_at <= now
    return {
        "tenant": env.tenant, "subscription_id": cand.id, "user_id": cand.user_id,
        "source": env.source, "entity_type": env.entity.type, "entity_id": env.entity.id,
        "project_id": env.project_id, "due": due_text(due), "fire_at": fire_at,
        "status": CANCELLED if late else SCHEDULED,
        "reason": f"its moment {fire_at.isoformat()} had passed when event {env.id} came"
        if late else "",
        "event_id": seen.event.id, "event_time": env.occurred_at, "created_at": now,
        "updated_at": now,
    }  # fmt: skip


def _decisions(
    seen: Seen, existing: dict[int, int], zone_of: Callable[[str], tzinfo], now: datetime
) -> dict[int, Decision]:
    """What this event says about each reminder of its entity, by subscription id: a row to
    upsert, or why the reminder (if any) is cancelled. ``existing``: subscription id → the id
    of its scheduled reminder for this entity, before the batch."""
    env = seen.event.env
    out: dict[int, Decision] = {}
    reminding = [c for c in seen.candidates if c.remind is not None]  # ~120 candidates, few
    matched = {c.id for c in seen.matched if c.remind is not None} if reminding else set()
    for cand in reminding:
        if not cand.follows(env.type):
            continue
        row = _row(seen, cand, zone_of(cand.user_id), now) if cand.id in matched else None
        why = "no date" if cand.id in matched else "the entity no longer matches"
        out[cand.id] = (env.occurred_at, row, f"{why} (event {env.id})")
    if not existing:
        return out
    covered = {c.id for c in seen.candidates}
    for sub_id in existing.keys() - covered:
        why = f"the subscription no longer covers the entity (event {env.id})"
        out[sub_id] = (env.occurred_at, None, why)
    return out


async def _upsert(session: AsyncSession, rows: list[ReminderRow]) -> None:
    stmt = upsert(session, REMINDERS)
    new = stmt.excluded
    moved = {k: new[k] for k in ("user_id", "project_id", "due", "fire_at", "status", "reason",
                                 "event_id", "event_time", "updated_at")}  # fmt: skip
    old = REMINDERS.c
    already_sent = and_(old.status == SENT, old.due == new.due)
    stmt = stmt.on_conflict_do_update(
        index_elements=["subscription_id", "entity_id"],
        set_=moved,
        where=and_(old.event_time <= new.event_time, not_(already_sent)),
    )
    await session.execute(stmt, rows)


async def _cancel_all(session: AsyncSession, cancels: list[CancelParams], now: datetime) -> None:
    c = REMINDERS.c
    stmt = (
        update(REMINDERS)
        .where(c.id == bindparam("rid"), c.status == SCHEDULED, c.event_time <= bindparam("at"))
        .values(
            status=CANCELLED, reason=bindparam("why"), event_time=bindparam("at"), updated_at=now
        )  # the cancelling event's time: older events lose to it
    )
    await session.execute(stmt, cancels)


async def keep_reminders(
    session: AsyncSession,
    seen: list[Seen],
    zone_of: Callable[[str, str], tzinfo],
    now: datetime,
) -> None:
    """Schedule, move and cancel the batch's reminders (see the module docstring).
    ``zone_of(tenant, user)``: the subscriber's zone. Of two events of one entity in the
    batch, the later one decides."""
    if not seen:
        return
    entities = list(dict.fromkeys(_entity(s.event) for s in seen))
    scheduled = await reminder_store(session).scheduled(session, entities)
    latest: dict[tuple[int, EntityKey], Decision] = {}
    for s in seen:
        tenant, key = s.event.env.tenant, _entity(s.event)
        said = _decisions(s, scheduled[key], partial(zone_of, tenant), now)
        for sub_id, decision in said.items():
            before = latest.get((sub_id, key))
            if before is None or before[0] <= decision[0]:
                latest[(sub_id, key)] = decision
    upserts = [row for _, row, _ in latest.values() if row is not None]
    cancels: list[CancelParams] = [
        {"rid": scheduled[key][sub_id], "why": why[:256], "at": at}
        for (sub_id, key), (at, row, why) in latest.items()
        if row is None and sub_id in scheduled[key]
    ]
    if upserts:
        await _upsert(session, upserts)
    if cancels:
        await _cancel_all(session, cancels, now)
