"""Which recent events a filter would have matched: the same matching the processor does.

Only events about objects the caller may read are scanned (DESIGN §13): the mediator is asked
about every scanned event's object in one batch before any condition is evaluated, so neither
the list nor the counts say anything about an object the caller may not read — a filter on a
hidden attribute (30 ``between`` queries would bisect it) matches nothing there. An object the
module cannot answer about counts as unreadable. Only identifiers leave this endpoint (type,
entity id, project, time), never the payload or the attributes. Rate-limited per user
(``throttle.py``).
"""

from __future__ import annotations

from datetime import timedelta, tzinfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.clients.mediator_client import MediatorClient
from libs.common.db.models import Event, EventStatus, Recipient, utcnow
from libs.common.inbox.access import Verdict, judge, question
from libs.common.recipients.memberships import memberships, person_in
from libs.common.schemas.envelope import EventEnvelope
from libs.common.schemas.permissions import PermissionItem
from libs.common.security.auth import Principal
from libs.common.subscriptions.filter_match import CompiledFilter, compile_conditions
from libs.common.subscriptions.filter_subject import Subject, zone_named
from libs.common.subscriptions.filters import Person
from services.ingest.user_api.schemas import PreviewMatch, PreviewRequest, PreviewResult
from services.ingest.user_api.subscription_store import checked_filter

MAX_SHOWN = 50


def _subject(event: Event) -> Subject | None:
    """The event as the processor saw it: its stored body read by the same envelope model
    (a body that no longer validates could not have been processed either)."""
    try:
        return Subject.of(EventEnvelope.model_validate(event.body or {}))
    except ValidationError:
        return None


async def _recent(session: AsyncSession, user: Principal, req: PreviewRequest) -> list[Event]:
    query = select(Event).where(
        Event.tenant == user.tenant,
        Event.source == req.source,
        Event.entity_type == req.entity_type,
        Event.status != EventStatus.REJECTED.value,
        Event.received_at >= utcnow() - timedelta(days=req.days),
    )
    if req.project_id is not None:
        query = query.where(Event.project_id == req.project_id)
    if req.types:
        query = query.where(Event.type.in_(req.types))
    query = query.order_by(Event.received_at.desc()).limit(req.limit)
    return list(await session.scalars(query))


async def _people(
    session: AsyncSession, tenant: str, compiled: CompiledFilter, subjects: list[Subject]
) -> None:
    """Give each subject the people its roles_any / companies_any conditions ask about, as
    they are in that event's project (two directory queries for them all)."""
    wanted = {p for s in subjects for p in compiled.people(s)}
    if not wanted:
        return
    rows = await session.scalars(
        select(Recipient).where(Recipient.tenant == tenant, Recipient.user_id.in_(wanted))
    )
    everywhere = {r.user_id: Person(frozenset(r.roles or []), r.company_id) for r in rows}
    held = await memberships(session, tenant, wanted)
    for s in subjects:
        project = s.fields.get("project_id")
        s.people = {
            u: person_in(everywhere.get(u, Person()), held.get(u, {}), project)
            for u in compiled.people(s)
        }


async def _zone(session: AsyncSession, user: Principal) -> tzinfo:
    """The caller's zone (the subscriber-to-be's): the date operators read "today" there."""
    name = await session.scalar(
        select(Recipient.timezone).where(
            Recipient.tenant == user.tenant, Recipient.user_id == user.user_id
        )
    )
    return zone_named(name)


async def _readable(mediator: MediatorClient, user: Principal, events: list[Event]) -> list[Event]:
    """The events about objects the user may read (one mediator batch, one question each)."""
    questions: dict[str, PermissionItem | None] = {}
    for e in events:
        try:
            questions[e.id] = question(
                e.source or "", e.project_id, e.entity_type or "", e.entity_id or "", user.user_id
            )
        except ValueError:
            continue  # cannot be asked: never readable
    verdicts = await judge(mediator, user.tenant, questions) if questions else {}
    return [e for e in events if verdicts.get(e.id) is Verdict.ALLOWED]


async def preview(
    session: AsyncSession, mediator: MediatorClient, user: Principal, req: PreviewRequest
) -> PreviewResult:
    compiled = compile_conditions(checked_filter(req.filter))
    events = await _readable(mediator, user, await _recent(session, user, req))
    subjects = [(e, s) for e in events if (s := _subject(e)) is not None]
    await _people(session, user.tenant, compiled, [s for _, s in subjects])
    zone = await _zone(session, user)
    hits = []
    for event, subject in subjects:
        if compiled.holds(subject, zone):
            hits.append(event)
    shown = [
        PreviewMatch(
            event_id=e.id,
            type=e.type or "",
            entity_id=e.entity_id or "",
            project_id=e.project_id,
            occurred_at=e.occurred_at,
        )
        for e in hits[:MAX_SHOWN]
    ]
    return PreviewResult(scanned=len(events), matched=len(hits), events=shown)
