"""Event types and templates from the database, with built-in fallbacks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import EventType, Template
from libs.common.seed import DEFAULT_EVENT_TYPE


async def event_type(session: AsyncSession, source: str, type_: str) -> EventType:
    found = await session.get(EventType, f"{source}.{type_}")
    if found is not None:
        return found
    return EventType(key=f"{source}.{type_}", source=source, **DEFAULT_EVENT_TYPE)


async def find_template(
    session: AsyncSession, type_key: str, channel: str, locales: list[str]
) -> Template | None:
    """(type, channel, locale) → (type, channel, type's default locale) → ("*", channel, …)."""
    rows = (
        await session.scalars(
            select(Template).where(
                Template.event_type.in_([type_key, "*"]), Template.channel == channel
            )
        )
    ).all()
    by_key = {(t.event_type, t.locale): t for t in rows}
    for key in (type_key, "*"):
        for locale in locales:
            if (key, locale) in by_key:
                return by_key[(key, locale)]
    return None
