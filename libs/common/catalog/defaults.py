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
# Channel defaults in Russian (the users' language) and English; an operator overrides them per
# event type in the admin. Templates see event, entity, actor, payload and recipient.
_WORDS = {
    "ru": ("Здравствуйте!", "проект", "Изменение внёс", "Событие"),
    "en": ("Hello!", "project", "Changed by", "Event"),
}
_WHERE = "{{ entity.type }} {{ entity.id }}{% if event.project_id %} · %s {{ event.project_id }}"
_WHERE += "{% endif %}"
_BY = "{% if actor.id is defined %}%s: {{ actor.id }}\n{% endif %}"
_BY_HTML = "{% if actor.id is defined %}<p>%s: {{ actor.id }}</p>{% endif %}"
_TG_TITLE = "{{ payload.title | default(event.type) | e }}"  # Telegram parses HTML: escape


def _channel_defaults(locale: str) -> dict[tuple[str, str, str], tuple[str, str, str | None]]:
    hello, project, by, ev = _WORDS[locale]
    where = _WHERE.replace("%s", project)
    # trim_blocks eats the newline right after a block tag, hence the doubled one
    text = f"{hello}\n\n{_TITLE}\n{where}\n\n{_BY.replace('%s', by)}"
    text += f"{ev}: {{{{ event.source }}}} / {{{{ event.type }}}}, {{{{ event.occurred_at }}}}"
    text += "\n\n— Herald\n"
    html = f"<p>{hello}</p><p><b>{_TITLE}</b></p><p>{where}</p>{_BY_HTML.replace('%s', by)}"
    html += f"<p><small>{ev}: {{{{ event.source }}}} / {{{{ event.type }}}}</small></p>"
    return {
        ("*", "inbox", locale): (_TITLE, f"{{{{ event.source }}}}: {where}", None),
        ("*", "email", locale): ("[{{ event.source }}] " + _TITLE, text, html + "<p>— Herald</p>"),
        ("*", "telegram", locale): (
            "",
            f"<b>{{{{ event.source | e }}}}</b>: {_TG_TITLE}\n{{{{ entity.type | e }}}} "
            "{{ entity.id | e }}",
            None,
        ),
        ("*", "browser", locale): (_TITLE, where, None),
        # SMS: one short line, no subject; the sender cuts it to HERALD_SMS_MAX_SEGMENTS
        ("*", "sms", locale): ("", f"{{{{ event.source }}}}: {_TITLE} ({where})", None),
    }


# (event_type, channel, locale) -> subject, body, body_html
DEFAULT_TEMPLATES: dict[tuple[str, str, str], tuple[str, str, str | None]] = {
    **_channel_defaults("ru"),
    **_channel_defaults("en"),
}


# Digests (issue 9): one template per channel and locale under the event type "herald.digest".
# Context: digest{item_count, entity_count, module_count, window_start_local, window_end_local,
# timezone}, modules[{source, item_count, entity_count, more, entries[{title, subject, body,
# type, entity_type, entity_id, project_id, count, last_at}]}], recipient{user_id, locale}.
DIGEST_EVENT_TYPE = "herald.digest"
_DIGEST_LIST = (
    "{% for m in modules %}\n"
    "{{ m.source }} ({{ m.item_count }})\n"
    "{% for e in m.entries %}\n"
    "  - {{ e.title }}{% if e.count > 1 %} (×{{ e.count }}){% endif %}"
    " — {{ e.entity_type }} {{ e.entity_id }}\n"
    "{% endfor %}\n"
    "{% if m.more %}\n  … +{{ m.more }}\n{% endif %}\n"
    "\n{% endfor %}\n"
)
_DIGEST_HTML = (
    "{% for m in modules %}<h3>{{ m.source }} ({{ m.item_count }})</h3><ul>"
    "{% for e in m.entries %}<li>{{ e.title }}{% if e.count > 1 %} <b>×{{ e.count }}</b>"
    "{% endif %} — {{ e.entity_type }} {{ e.entity_id }}</li>{% endfor %}"
    "{% if m.more %}<li>… +{{ m.more }}</li>{% endif %}</ul>{% endfor %}"
)
_DIGEST_TG = (
    "{% for m in modules %}\n<b>{{ m.source | e }}</b> ({{ m.item_count }})\n"
    "{% for e in m.entries %}\n• {{ e.title | e }}{% if e.count > 1 %} ×{{ e.count }}{% endif %}\n"
    "{% endfor %}\n{% if m.more %}\n… +{{ m.more }}\n{% endif %}\n{% endfor %}\n"
)
_DIGEST_WORDS = {
    "ru": ("Дайджест Herald: уведомлений — {{ digest.item_count }}",
           "Здравствуйте!\n\nС {{ digest.window_start_local }} по {{ digest.window_end_local }}:"
           "\n\n", "\n— Herald\n"),
    "en": ("Herald digest: {{ digest.item_count }} notifications",
           "Hello!\n\nFrom {{ digest.window_start_local }} to {{ digest.window_end_local }}:"
           "\n\n", "\n— Herald\n"),
}  # fmt: skip
DIGEST_TEMPLATES: dict[tuple[str, str, str], tuple[str, str, str | None]] = {}
for _loc, (_subj, _head, _tail) in _DIGEST_WORDS.items():
    DIGEST_TEMPLATES[(DIGEST_EVENT_TYPE, "email", _loc)] = (
        _subj, _head + _DIGEST_LIST + _tail, "<p>" + _head.strip() + "</p>" + _DIGEST_HTML
    )  # fmt: skip
    DIGEST_TEMPLATES[(DIGEST_EVENT_TYPE, "telegram", _loc)] = (
        "",
        f"<b>{_subj}</b>\n" + _DIGEST_TG,
        None,
    )
    DIGEST_TEMPLATES[(DIGEST_EVENT_TYPE, "browser", _loc)] = (_subj, _DIGEST_LIST, None)
    DIGEST_TEMPLATES[(DIGEST_EVENT_TYPE, "sms", _loc)] = ("", _subj, None)  # the count only
DEFAULT_TEMPLATES.update(DIGEST_TEMPLATES)


async def seed_defaults(session: AsyncSession) -> int:
    """Insert the default templates that are missing; never overwrite an operator's edit."""
    globals_ = select(Template).where(Template.tenant.is_(None))  # tenants' overrides aside
    existing = {(t.event_type, t.channel, t.locale) for t in (await session.scalars(globals_))}
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
