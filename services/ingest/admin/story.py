"""A user's story in one place: every event that concerned them and what became of it —
created, skipped (why), sent, failed, denied — plus the settings that explain it. The page
that answers "I never got it"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import (
    ChannelPreference,
    Delivery,
    DigestSchedule,
    Event,
    EventStatus,
    Notification,
    Recipient,
    Subscription,
    utcnow,
)
from services.ingest.admin.trail import NotificationTrail, attempts_of, trails_for

MAX_STORY_EVENTS = 200  # the newest; older ones through the event and delivery lists
MAX_MENTIONS = 100
DEFAULT_DAYS = 30


@dataclass
class Mention:
    """An event that names the user but gave them no notification, and the likely why."""

    event: Event
    why: str


@dataclass
class Story:
    tenant: str
    user_id: str
    since: datetime
    recipient: Recipient | None = None
    preferences: list[ChannelPreference] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    schedules: list[DigestSchedule] = field(default_factory=list)
    entries: list[tuple[Event | None, NotificationTrail]] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    digests: list[tuple[Delivery, list[Any]]] = field(default_factory=list)


Theirs = type[ChannelPreference | Subscription | DigestSchedule | Notification | Delivery]


def _theirs(model: Theirs, story: Story) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The conditions that keep a table's rows to the story's person."""
    return model.tenant == story.tenant, model.user_id == story.user_id


async def load_story(session: AsyncSession, tenant: str, user_id: str, days: int) -> Story:
    story = Story(tenant, user_id, utcnow() - timedelta(days=days))
    story.recipient = await session.get(Recipient, (tenant, user_id))
    story.preferences = list(
        await session.scalars(select(ChannelPreference).where(*_theirs(ChannelPreference, story)))
    )
    story.subscriptions = list(
        await session.scalars(select(Subscription).where(*_theirs(Subscription, story)))
    )
    story.schedules = list(
        await session.scalars(select(DigestSchedule).where(*_theirs(DigestSchedule, story)))
    )
    await _entries(session, story)
    await _mentions(session, story)
    await _digests(session, story)
    return story


async def _entries(session: AsyncSession, story: Story) -> None:
    notifications = list(
        await session.scalars(
            select(Notification)
            .where(*_theirs(Notification, story), Notification.created_at >= story.since)
            .order_by(Notification.id.desc())
            .limit(MAX_STORY_EVENTS)
        )
    )
    events = {
        e.id: e
        for e in await session.scalars(
            select(Event).where(Event.id.in_([n.event_id for n in notifications]))
        )
    }
    for trail in await trails_for(session, notifications):
        story.entries.append((events.get(trail.notification.event_id), trail))


async def _mentions(session: AsyncSession, story: Story) -> None:
    """Events whose body names the user (as a recipient, actor, responsible...) with no
    notification for them. A text scan, bounded by tenant and time: an admin-only page."""
    notified = {trail.notification.event_id for _, trail in story.entries}
    rows = await session.scalars(
        select(Event)
        .where(
            Event.tenant == story.tenant,
            Event.received_at >= story.since,
            cast(Event.body, Text).contains(f'"{story.user_id}"', autoescape=True),
        )
        .order_by(Event.received_at.desc())
        .limit(MAX_MENTIONS + len(notified))
    )
    for event in rows:
        if event.id not in notified and len(story.mentions) < MAX_MENTIONS:
            story.mentions.append(Mention(event, why_not_notified(event, story.user_id)))


def why_not_notified(event: Event, user_id: str) -> str:
    if event.status != EventStatus.PROCESSED.value:
        detail = f": {event.error}" if event.error else ""
        return f"the event is {event.status}{detail}"
    body = event.body or {}
    if (body.get("actor") or {}).get("id") == user_id:
        return "they are the actor: nobody is notified of their own action (event type setting)"
    return "named in the event, but in no recipient role and no matching subscription"


async def _digests(session: AsyncSession, story: Story) -> None:
    rows = list(
        await session.scalars(
            select(Delivery)
            .where(
                *_theirs(Delivery, story),
                Delivery.notification_id.is_(None),
                Delivery.created_at >= story.since,
            )
            .order_by(Delivery.id.desc())
            .limit(MAX_STORY_EVENTS)
        )
    )
    attempts = await attempts_of(session, [d.id for d in rows])
    story.digests = [(d, attempts.get(d.id, [])) for d in rows]
