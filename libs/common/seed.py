"""Default templates and event-type defaults, seeded by ``herald migrate`` (idempotent)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Template

DEFAULT_EVENT_TYPE: dict[str, Any] = {
    "title": "",
    "category": "general",
    "critical": False,
    "digestible": True,
    "default_channels": ["email", "browser"],
    "default_locale": "ru",
    "notify_actor": False,
    "enabled": True,
}

_TITLE = "{{ payload.title | default(event.type) }}"

# (event_type, channel, locale) -> subject, body, body_html
DEFAULT_TEMPLATES: dict[tuple[str, str, str], tuple[str, str, str | None]] = {
    ("*", "inbox", "ru"): (_TITLE, "{{ event.source }}: {{ entity.type }} {{ entity.id }}", None),
    ("*", "inbox", "en"): (_TITLE, "{{ event.source }}: {{ entity.type }} {{ entity.id }}", None),
    ("*", "email", "ru"): (
        "[{{ event.source }}] " + _TITLE,
        "Здравствуйте!\n\n{{ event.source }}: {{ event.type }}\n"
        "{{ entity.type }} {{ entity.id }}\n\n" + _TITLE + "\n\n— Herald\n",
        "<p>Здравствуйте!</p><p><b>{{ event.source }}</b>: {{ event.type }}</p>"
        "<p>{{ entity.type }} {{ entity.id }}</p><p>" + _TITLE + "</p><p>— Herald</p>",
    ),
    ("*", "email", "en"): (
        "[{{ event.source }}] " + _TITLE,
        "Hello!\n\n{{ event.source }}: {{ event.type }}\n"
        "{{ entity.type }} {{ entity.id }}\n\n" + _TITLE + "\n\n— Herald\n",
        "<p>Hello!</p><p><b>{{ event.source }}</b>: {{ event.type }}</p>"
        "<p>{{ entity.type }} {{ entity.id }}</p><p>" + _TITLE + "</p><p>— Herald</p>",
    ),
    ("*", "telegram", "ru"): ("", "<b>{{ event.source }}</b>: " + _TITLE, None),
    ("*", "telegram", "en"): ("", "<b>{{ event.source }}</b>: " + _TITLE, None),
    ("*", "browser", "ru"): (_TITLE, "{{ entity.type }} {{ entity.id }}", None),
    ("*", "browser", "en"): (_TITLE, "{{ entity.type }} {{ entity.id }}", None),
}


async def seed_defaults(session: AsyncSession) -> int:
    """Insert the default templates that are missing; never overwrite an operator's edit."""
    existing = {
        (t.event_type, t.channel, t.locale) for t in (await session.scalars(select(Template))).all()
    }
    added = 0
    for key, (subject, body, html) in DEFAULT_TEMPLATES.items():
        if key not in existing:
            session.add(
                Template(
                    event_type=key[0],
                    channel=key[1],
                    locale=key[2],
                    subject=subject,
                    body=body,
                    body_html=html,
                )
            )
            added += 1
    await session.flush()
    return added
