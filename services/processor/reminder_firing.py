"""Sending due reminders through the normal pipeline (DESIGN §5.2), in the caller's
transaction (flush only).

The due rows are claimed with ``FOR UPDATE SKIP LOCKED`` (on SQLite the write lock first:
libs/common/db/locks.py's ``lock_for_claim``): a second processor skips them, and a processor
killed before its commit leaves them ``scheduled`` for the next claim. Each reminder becomes an
event of type ``reminder.due`` (a copy of the event that scheduled it, stored ``processed``) and
one notification for the subscriber with the subscription's channels, planned, rendered and
written like any other (preferences, digests, templates); the sender re-checks the
permission at send time. The reminder is marked ``sent`` in the same transaction: once.
A reminder whose subscription was deleted, disabled or lost its ``remind`` is cancelled.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Event, EventStatus, Notification, Subscription
from libs.common.db.tables import table_of
from libs.common.schemas.envelope import EventEnvelope
from libs.common.subscriptions.reminders import REMINDER_TYPE
from services.processor.batch import Deps, Outcome, Staged, write_staged
from services.processor.catalog import Snapshot
from services.processor.channels import Claim
from services.processor.choices import digest_channels, preferences
from services.processor.pipeline import EventPlanner, Loaded
from services.processor.reminder_store import CANCELLED, REMINDERS, SENT, Due, reminder_store
from services.processor.settling import Settled, settle

EVENTS = table_of(Event)


async def _subscriptions(session: AsyncSession, ids: set[int]) -> dict[int, Any]:
    s = Subscription
    rows = await session.execute(
        select(s.id, s.user_id, s.enabled, s.remind, s.channels).where(s.id.in_(ids))
    )
    return {row[0]: row for row in rows.all()}


def _stale(due: Due, sub: Any) -> str | None:
    """Why this reminder is no longer wanted, or None."""
    if sub is None:
        return "the subscription was deleted"
    if not sub.enabled:
        return "the subscription is disabled"
    if not sub.remind:
        return "the subscription no longer asks for reminders"
    if sub.user_id != due.user_id:
        return "the subscription changed hands"
    return None


def _body(due: Due, scheduled_by: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """The reminder as an event: the entity as the scheduling event showed it (or, if that
    event is gone, its identity alone), type ``reminder.due``, what is due in the payload."""
    base = dict(scheduled_by or {})
    payload = dict(base.get("payload") or {})
    payload["reminder"] = {
        "subscription_id": due.subscription_id,
        "due": due.due,
        "scheduled_by": due.event_id,
        "event_type": base.get("type"),
    }
    entity = base.get("entity") or {"type": due.entity_type, "id": due.entity_id}
    base.pop("audience", None)
    return {
        **base, "id": f"reminder-{due.id}-{uuid.uuid4().hex[:12]}", "type": REMINDER_TYPE,
        "source": due.source, "tenant": due.tenant, "project_id": due.project_id,
        "entity": entity, "actor": None, "recipients": {}, "occurred_at": now.isoformat(),
        "payload": payload,
    }  # fmt: skip


async def _as_event(session: AsyncSession, due: Due, body: dict[str, Any], now: datetime) -> Loaded:
    env = EventEnvelope.model_validate(body)
    event_id = str(uuid.uuid4())
    await session.execute(
        insert(EVENTS).values(
            id=event_id, tenant=env.tenant, source=env.source, source_event_id=env.id,
            type=env.type, project_id=env.project_id, entity_type=env.entity.type,
            entity_id=env.entity.id, priority=env.priority.value, occurred_at=now, body=body,
            status=EventStatus.PROCESSED.value, attempts=0, received_at=now, processed_at=now,
        )
    )  # fmt: skip
    return Loaded(event_id, env, now)


async def _staged(
    session: AsyncSession, deps: Deps, snapshot: Snapshot, fired: list[tuple[Due, Loaded, Any]]
) -> list[Staged]:
    keys = {(due.tenant, due.user_id) for due, _, _ in fired}
    people = await deps.directory.lookup(session, keys)
    prefs = await preferences(session, keys)
    digests = await digest_channels(session, keys)
    staged = []
    for due, loaded, sub in fired:
        key = (due.tenant, due.user_id)
        planner = EventPlanner(
            loaded,
            snapshot,
            {due.user_id: people[key]} if key in people else {},
            {due.user_id: prefs.get(key, {})},
            {due.user_id: digests.get(key, frozenset())},
        )
        claim = Claim(due.user_id, f"reminder:{due.subscription_id}", tuple(sub.channels or ()))
        staged.append(Staged(planner, {due.user_id: [claim]}))
    return staged


async def fire_due(session: AsyncSession, deps: Deps, now: datetime, limit: int) -> Outcome:
    """Send up to ``limit`` reminders due at ``now``; the outcome's pending deliveries are for
    the sender's nudge after the caller commits."""
    outcome = Outcome()
    claimed = await reminder_store(session).claim_due(session, now, limit)
    outcome.reminders = len(claimed)
    if not claimed:
        return outcome
    subs = await _subscriptions(session, {d.subscription_id for d in claimed})
    scheduling = select(Event.id, Event.body).where(Event.id.in_({d.event_id for d in claimed}))
    bodies: dict[str, Any] = {i: b for i, b in (await session.execute(scheduling)).all()}
    snapshot = await deps.catalog.snapshot(session)
    fired = []
    cancelled: list[Settled] = []
    for due in claimed:
        why = _stale(due, subs.get(due.subscription_id))
        if why is None and not snapshot.event_type(due.tenant, due.source, REMINDER_TYPE).enabled:
            why = f"the event type {due.source}.{REMINDER_TYPE} is disabled"
        if why is not None:
            cancelled.append({"row": due.id, "to": CANCELLED, "why": why, "became": None})
            continue
        body = _body(due, bodies.get(due.event_id), now)
        fired.append((due, await _as_event(session, due, body, now), subs[due.subscription_id]))
    if fired:
        await write_staged(session, await _staged(session, deps, snapshot, fired), outcome)
        notes = await _notifications(session, [loaded.id for _, loaded, _ in fired])
        cancelled += [
            {"row": due.id, "to": SENT, "why": f"sent as event {loaded.id}",
             "became": notes.get(loaded.id)}
            for due, loaded, _ in fired
        ]  # fmt: skip
    await _settle(session, cancelled, now)
    return outcome


async def _notifications(session: AsyncSession, event_ids: list[str]) -> dict[str, int]:
    n = Notification
    rows = await session.execute(select(n.event_id, n.id).where(n.event_id.in_(event_ids)))
    return {event_id: note_id for event_id, note_id in rows.all()}


async def _settle(session: AsyncSession, outcomes: list[Settled], now: datetime) -> None:
    """Each reminder ends sent or cancelled; a sent one keeps the notification it became."""
    await settle(session, REMINDERS, "notification_id", outcomes, now)
