"""Turning one claimed event into notifications and deliveries (DESIGN §5), flush only."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import (
    Delivery,
    DeliveryStatus,
    Event,
    EventStatus,
    Notification,
    Recipient,
    utcnow,
)
from libs.common.schemas.envelope import EventEnvelope
from services.processor.catalog import event_type
from services.processor.render import context, render_for


@dataclass
class Outcome:
    notifications: int = 0
    pending: list[int] = field(default_factory=list)  # delivery ids for the sender's nudge


def _address_missing(channel: str, recipient: Recipient | None) -> str | None:
    if channel == "email" and not (recipient and recipient.email):
        return "no e-mail address in the directory"
    if channel == "telegram" and not (recipient and recipient.telegram_chat_id):
        return "no linked Telegram chat"
    return None


async def process(session: AsyncSession, event: Event, default_channels: list[str]) -> Outcome:
    envelope = EventEnvelope.model_validate(event.body)
    etype = await event_type(session, envelope.source, envelope.type)
    people = envelope.direct_recipients()
    actor = envelope.actor.id if envelope.actor else None
    if actor in people and not etype.notify_actor:
        del people[actor]
    directory = {
        r.user_id: r
        for r in await session.scalars(
            select(Recipient).where(
                Recipient.tenant == envelope.tenant, Recipient.user_id.in_(list(people))
            )
        )
    }
    channels = etype.default_channels or default_channels
    outcome = Outcome()
    for user_id, roles in people.items():
        recipient = directory.get(user_id)
        ctx = context(event, recipient, user_id)
        locale = recipient.locale if recipient else etype.default_locale
        inbox = await render_for(session, event, "inbox", locale, etype.default_locale, ctx)
        note = Notification(
            tenant=envelope.tenant,
            event_id=event.id,
            user_id=user_id,
            reason=f"direct:{roles[0]}",
            source=envelope.source,
            type=envelope.type,
            entity_type=envelope.entity.type,
            entity_id=envelope.entity.id,
            project_id=envelope.project_id,
            priority=envelope.priority.value,
            title=inbox.subject,
            body=inbox.body,
        )
        session.add(note)
        await session.flush()
        outcome.notifications += 1
        for channel in channels:
            missing = _address_missing(channel, recipient)
            msg = await render_for(session, event, channel, locale, etype.default_locale, ctx)
            delivery = Delivery(
                notification_id=note.id,
                tenant=envelope.tenant,
                user_id=user_id,
                source=envelope.source,
                channel=channel,
                status=DeliveryStatus.SKIPPED if missing else DeliveryStatus.PENDING,
                reason=missing or f"direct:{roles[0]}",
                subject=msg.subject,
                body=msg.body,
                body_html=msg.body_html,
                next_attempt_at=utcnow(),
            )
            session.add(delivery)
            await session.flush()
            if not missing:
                outcome.pending.append(delivery.id)
    event.status = EventStatus.PROCESSED.value
    event.processed_at = utcnow()
    event.error = None
    return outcome
