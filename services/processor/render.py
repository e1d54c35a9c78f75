"""Rendering the inbox item and each channel's message for one recipient."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Event, Recipient
from libs.common.templates import Rendered, render
from services.processor.catalog import find_template

FALLBACK_LOCALES = ("ru", "en")


def context(event: Event, recipient: Recipient | None, user_id: str) -> dict[str, Any]:
    body = event.body or {}
    return {
        "event": {
            "id": event.id,
            "source": event.source,
            "type": event.type,
            "project_id": event.project_id,
            "priority": event.priority,
            "occurred_at": body.get("occurred_at"),
        },
        "entity": body.get("entity", {}),
        "actor": body.get("actor") or {},
        "payload": body.get("payload", {}),
        "recipient": {
            "user_id": user_id,
            "locale": recipient.locale if recipient else "ru",
            "attributes": recipient.attributes if recipient else {},
        },
    }


async def render_for(
    session: AsyncSession,
    event: Event,
    channel: str,
    locale: str,
    default_locale: str,
    ctx: dict[str, Any],
) -> Rendered:
    type_key = f"{event.source}.{event.type}"
    locales = list(dict.fromkeys([locale, default_locale, *FALLBACK_LOCALES]))
    template = await find_template(session, type_key, channel, locales)
    if template is None:
        subject = str(ctx["payload"].get("title") or event.type)
        return Rendered(subject=subject, body=f"{event.source}: {event.type}")
    return render(template.subject, template.body, template.body_html, ctx)
