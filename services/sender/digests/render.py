"""Rendering a digest with its editable template ("herald.digest", channel, locale).

An operator's broken digest template must not stop digests: a template that fails to render
is logged and the built-in default for the same channel and locale is used instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.catalog.defaults import DIGEST_EVENT_TYPE, DIGEST_TEMPLATES
from libs.common.catalog.overrides import Scope
from libs.common.db.models import Recipient, Template
from libs.common.delivery.digest_schedule import ScheduleError, parse_zone
from libs.common.templating.email_layout import Layout, layout_for, load_layouts
from libs.common.templating.templates import Rendered, TemplateRenderError, render
from services.sender.digests.collect import Entry, Key, group, template_modules

FALLBACK_LOCALES = ("ru", "en")
EMAIL = "email"  # the channel laid out in the tenant's e-mail layout
FALLBACK_CHANNEL = EMAIL  # a channel with no digest template of its own gets e-mail's text
LOCAL_FORMAT = "%Y-%m-%d %H:%M"

log = logging.getLogger("herald.digests")

Source = tuple[str, str, str | None]  # subject, body, body_html


class DigestTemplates:
    """The digest templates and the recipients' locales needed for one batch; a tenant's own
    template beats the global one, and e-mails are wrapped in the tenant's layout (DESIGN §15)."""

    def __init__(
        self,
        rows: dict[tuple[Scope, str, str], Source],
        locales: dict[Key, str],
        layouts: dict[Scope, Layout] | None = None,
    ) -> None:
        self._rows, self._locales = rows, locales
        self._layouts = layouts or {}
        self._scoped: dict[str, dict[tuple[str, str], Source]] = {}

    def _rows_of(self, tenant: str) -> dict[tuple[str, str], Source]:
        """(channel, locale) → the tenant's template, else the global one."""
        found = self._scoped.get(tenant)
        if found is None:
            mine = sorted(self._rows.items(), key=lambda item: item[0][0] is not None)
            found = {(c, loc): v for (t, c, loc), v in mine if t in (None, tenant)}
            self._scoped[tenant] = found
        return found

    @classmethod
    async def load(cls, session: AsyncSession, keys: Sequence[Key]) -> DigestTemplates:
        templates = await session.scalars(
            select(Template).where(Template.event_type == DIGEST_EVENT_TYPE)
        )
        rows = {
            (t.tenant, t.channel, t.locale): (t.subject, t.body, t.body_html) for t in templates
        }
        users = {(k[0], k[1]) for k in keys}
        found = await session.execute(
            select(Recipient.tenant, Recipient.user_id, Recipient.locale).where(
                Recipient.user_id.in_([u for _, u in users])
            )
        )
        by_user = {(t, u): loc for t, u, loc in found if (t, u) in users}
        locales = {k: by_user.get((k[0], k[1]), FALLBACK_LOCALES[0]) for k in keys}
        return cls(rows, locales, await load_layouts(session))

    def render(self, key: Key, context: dict[str, Any]) -> Rendered:
        locale = self._locales.get(key, FALLBACK_LOCALES[0])
        context["recipient"] = {"user_id": key[1], "locale": locale}
        chosen = _pick(self._rows_of(key[0]), key[2], locale) or _pick(_DEFAULTS, key[2], locale)
        try:
            rendered = _render(chosen, context)
        except TemplateRenderError as exc:
            log.error("digest template (%s, %s) failed, using the default: %s", key[2], locale, exc)
            rendered = _render(_pick(_DEFAULTS, key[2], locale), context)
        layout = layout_for(self._layouts, key[0]) if key[2] == EMAIL else None
        return layout.apply(rendered) if layout is not None else rendered


_DEFAULTS: dict[tuple[str, str], Source] = {(k[1], k[2]): v for k, v in DIGEST_TEMPLATES.items()}
_BUILT_IN = _DEFAULTS[(FALLBACK_CHANNEL, FALLBACK_LOCALES[0])]


def _pick(rows: dict[tuple[str, str], Source], channel: str, locale: str) -> Source | None:
    for ch in (channel, FALLBACK_CHANNEL):
        for loc in dict.fromkeys([locale, *FALLBACK_LOCALES]):
            if (ch, loc) in rows:
                subject, body, html = rows[(ch, loc)]
                return (subject, body, html if ch == channel else None)
    return None


def _render(source: Source | None, context: dict[str, Any]) -> Rendered:
    subject, body, html = source or _BUILT_IN
    return render(subject, body, html, context)


def digest_context(
    grouped: dict[str, list[Entry]],
    window_start: datetime,
    window_end: datetime,
    timezone: str,
    channel: str,
) -> dict[str, Any]:
    zone = _zone(timezone)
    entries = [e for es in grouped.values() for e in es]
    digest = {
        "channel": channel,
        "item_count": sum(e.count for e in entries),
        "entity_count": len(entries),
        "module_count": len(grouped),
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "window_start_local": window_start.astimezone(zone).strftime(LOCAL_FORMAT),
        "window_end_local": window_end.astimezone(zone).strftime(LOCAL_FORMAT),
        "timezone": timezone,
    }
    return {"digest": digest, "modules": template_modules(grouped)}


def _zone(name: str) -> ZoneInfo:
    try:
        return parse_zone(name)
    except ScheduleError:
        return ZoneInfo("UTC")


__all__ = ["DigestTemplates", "digest_context", "group"]
