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

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.access import Verdict, judge, question
from libs.common.auth import Principal
from libs.common.db.models import Event, EventStatus, Recipient, utcnow
from libs.common.filters import Condition, MatchContext, Person, matches, people_mentioned
from libs.common.mediator_client import MediatorClient
from libs.common.schemas.permissions import PermissionItem
from services.ingest.user_api.schemas import PreviewMatch, PreviewRequest, PreviewResult
from services.ingest.user_api.subscription_store import checked_filter

MAX_SHOWN = 50


def _attributes(event: Event) -> dict[str, Any]:
    entity = (event.body or {}).get("entity") or {}
    attrs = entity.get("attributes") if isinstance(entity, dict) else None
    return attrs if isinstance(attrs, dict) else {}


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
    query = query.order_by(Event.received_at.desc()).limit(req.limit)
    return list(await session.scalars(query))


async def _people(
    session: AsyncSession, tenant: str, conditions: list[Condition], events: list[Event]
) -> dict[str, Person]:
    """One directory query for every person a roles_any / companies_any condition needs."""
    wanted: set[str] = set()
    for event in events:
        wanted |= people_mentioned(conditions, _attributes(event))
    if not wanted:
        return {}
    rows = await session.scalars(
        select(Recipient).where(Recipient.tenant == tenant, Recipient.user_id.in_(wanted))
    )
    return {
        r.user_id: Person(roles=frozenset(r.roles or []), company_id=r.company_id) for r in rows
    }


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
    conditions = checked_filter(req.filter)
    events = await _readable(mediator, user, await _recent(session, user, req))
    people = await _people(session, user.tenant, conditions, events)
    hits = []
    for event in events:
        when = event.occurred_at or event.received_at
        if matches(conditions, _attributes(event), MatchContext(event_time=when, people=people)):
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
