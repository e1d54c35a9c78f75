"""Taking due escalation steps (DESIGN §6), in the caller's transaction (flush only).

Due ``planned`` steps are claimed with ``FOR UPDATE SKIP LOCKED`` (on SQLite the write lock
first: libs/common/db/locks.py's ``lock_for_claim``): a second processor skips them, and one
killed before its commit leaves them ``planned`` for the next claim. For each step:

* the notification was read or archived, or the inbox check denied it → the step and every
  later planned step of the notification are ``stopped``;
* the notification already has a live delivery on the step's channel → ``skipped``;
* otherwise the step is planned like any delivery of the event (EventPlanner: the person's
  address, the provider, the template for the channel; critical, so instant whatever the
  preferences): no address or no provider → ``skipped`` with that reason, else a ``PENDING``
  delivery is written and the step is ``sent`` — in the same transaction, so once. The sender
  claims the delivery like any other: permission re-checked at send time, breaker, retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.locks import lock_for_claim
from libs.common.db.models import (
    Delivery,
    DeliveryRow,
    DeliveryStatus,
    Escalation,
    Event,
    Notification,
)
from libs.common.inbox.access import DENIED
from libs.common.schemas.envelope import EventEnvelope
from services.processor.batch import Deps, Outcome
from services.processor.catalog import Snapshot
from services.processor.channels import Claim
from services.processor.choices import digest_channels, preferences
from services.processor.escalation_plan import ESCALATIONS, PLANNED, SENT, SKIPPED, STOPPED
from services.processor.pipeline import EventPlanner, Loaded, delivery_rows
from services.processor.settling import Settled, settle
from services.processor.writer import insert_deliveries

E = Escalation


@dataclass(frozen=True)
class Due:
    id: int
    notification_id: int
    step: int
    channel: str
    after_minutes: int


async def _claim(session: AsyncSession, now: datetime, limit: int) -> list[Due]:
    due = (E.status == PLANNED, E.fire_at <= now)
    await lock_for_claim(session, ESCALATIONS, *due)
    stmt = (
        select(E.id, E.notification_id, E.step, E.channel, E.after_minutes)
        .where(*due)
        .order_by(E.fire_at, E.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [Due(*row) for row in (await session.execute(stmt)).all()]


def _stopped(note: Any) -> str | None:
    if note.read_at is not None:
        return f"stopped: read at {note.read_at.isoformat()}"
    if note.archived_at is not None:
        return f"stopped: archived at {note.archived_at.isoformat()}"
    if note.access == DENIED:
        return "stopped: the user may no longer read it (inbox check denied)"
    return None


async def _live(session: AsyncSession, note_ids: set[int]) -> dict[tuple[int, str], str]:
    """(notification, channel) → "delivery #id, STATUS" of the live deliveries."""
    d = Delivery
    rows = await session.execute(
        select(d.notification_id, d.channel, d.id, d.status).where(
            d.notification_id.in_(note_ids), d.status != DeliveryStatus.SKIPPED.value
        )
    )
    return {(n, ch): f"delivery #{i}, {st}" for n, ch, i, st in rows.all() if n is not None}


async def fire_escalations(session: AsyncSession, deps: Deps, now: datetime, limit: int) -> Outcome:
    """Take up to ``limit`` steps due at ``now``; the outcome counts them by what became of
    them (sent/skipped/stopped, later steps stopped with them included) and carries the new
    deliveries for the sender's nudge after the caller commits."""
    outcome = Outcome()
    claimed = await _claim(session, now, limit)
    outcome.steps = len(claimed)
    if not claimed:
        return outcome
    n = Notification
    found = await session.execute(
        select(n.id, n.tenant, n.user_id, n.event_id, n.read_at, n.archived_at, n.access).where(
            n.id.in_({d.notification_id for d in claimed})
        )
    )
    notes = {row.id: row for row in found.all()}
    live = await _live(session, set(notes))
    settled: list[Settled] = []
    stops: dict[int, str] = {}
    sending: list[tuple[Due, Any]] = []
    for due in claimed:
        note = notes[due.notification_id]
        why = _stopped(note)
        if why is not None:
            stops[note.id] = why
            settled.append({"row": due.id, "to": STOPPED, "why": why, "became": None})
        elif (there := live.get((note.id, due.channel))) is not None:
            why = f"already delivered on {due.channel} ({there})"
            settled.append({"row": due.id, "to": SKIPPED, "why": why, "became": None})
        else:
            sending.append((due, note))
    if sending:
        settled += await _send(session, deps, sending, outcome, stops, now)
    await _settle(session, settled, now)
    for item in settled:
        outcome.escalations[item["to"]] += 1
    outcome.escalations[STOPPED] += await _stop_later(session, stops, now)
    return outcome


async def _send(
    session: AsyncSession, deps: Deps, sending: list[tuple[Due, Any]], outcome: Outcome,
    stops: dict[int, str], now: datetime,
) -> list[Settled]:  # fmt: skip
    """Plan each step's delivery as the processor plans an event's; write the PENDING ones.
    A chain the event type no longer names (edited or disabled since) stops in ``stops``."""
    bodies = await session.execute(
        select(Event.id, Event.body, Event.received_at).where(
            Event.id.in_({note.event_id for _, note in sending})
        )
    )
    events = {i: (body, received) for i, body, received in bodies.all()}
    keys = {(note.tenant, note.user_id) for _, note in sending}
    people = await deps.directory.lookup(session, keys)
    prefs = await preferences(session, keys)
    digests = await digest_channels(session, keys)
    snapshot = await deps.catalog.snapshot(session)
    settled: list[Settled] = []
    rows: list[DeliveryRow] = []
    written: list[Due] = []
    for due, note in sending:
        body, received = events[note.event_id]
        loaded = Loaded(note.event_id, EventEnvelope.model_validate(body), received)
        withdrawn = _withdrawn(snapshot, loaded.env, due.channel)
        if withdrawn is not None:
            stops[note.id] = withdrawn
            settled.append({"row": due.id, "to": STOPPED, "why": withdrawn, "became": None})
            continue
        key, user = (note.tenant, note.user_id), note.user_id
        planner = EventPlanner(
            loaded, snapshot, {user: people[key]} if key in people else {},
            {user: prefs.get(key, {})}, {user: digests.get(key, frozenset())},
        )  # fmt: skip
        why = f"escalation step {due.step}: unread after {due.after_minutes} min"
        pp = planner.person(user, [Claim(user, why, (due.channel,))])
        planned = pp.deliveries[0][0]
        if planned.status is not DeliveryStatus.PENDING:
            reason = planned.reason[:256]
            settled.append({"row": due.id, "to": SKIPPED, "why": reason, "became": None})
            continue
        rows += delivery_rows(loaded, pp, note.id, now)
        written.append(due)
    for due, (delivery_id, _status) in zip(
        written, await insert_deliveries(session, rows), strict=True
    ):
        outcome.pending.append(delivery_id)
        why = f"delivery #{delivery_id} on {due.channel}"
        settled.append({"row": due.id, "to": SENT, "why": why, "became": delivery_id})
    return settled


def _withdrawn(snapshot: Snapshot, env: EventEnvelope, channel: str) -> str | None:
    """Why the event type, as it is configured now, no longer wants this step."""
    etype = snapshot.event_type(env.tenant, env.source, env.type)
    if not etype.enabled:
        return f"stopped: the event type {etype.key} is disabled"
    if channel not in {step.channel for step in etype.escalation}:
        return f"stopped: the chain of {etype.key} no longer names {channel}"
    return None


async def _settle(session: AsyncSession, settled: list[Settled], now: datetime) -> None:
    """Each step ends sent, skipped or stopped; a sent one keeps its delivery."""
    await settle(session, ESCALATIONS, "delivery_id", settled, now)


async def _stop_later(session: AsyncSession, stops: dict[int, str], now: datetime) -> int:
    """Stop the planned steps of these notifications that are not due yet; steps another
    processor holds are skipped over (SKIP LOCKED: it stops them itself, and nobody waits
    on anybody's locks)."""
    done = 0
    for note_id, why in stops.items():
        ids = (
            select(E.id)
            .where(E.notification_id == note_id, E.status == PLANNED)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        result = await session.execute(
            update(ESCALATIONS)
            .where(ESCALATIONS.c.id.in_(ids))
            .values(status=STOPPED, reason=why, updated_at=now)
        )
        done += int(getattr(result, "rowcount", 0) or 0)
    return done
