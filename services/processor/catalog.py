"""Event types and templates, loaded whole and kept for a couple of seconds.

Both tables are small (hundreds of rows) and read for every event, so one query each per
``CATALOG_TTL_S`` replaces two per event; an admin edit shows up within that time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import TemplateSyntaxError, meta
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import EventType, Template
from libs.common.seed import DEFAULT_EVENT_TYPE
from libs.common.templates import environment

CATALOG_TTL_S = 2.0
FALLBACK_LOCALES = ("ru", "en")


@dataclass(frozen=True)
class TypeInfo:
    key: str
    critical: bool
    digestible: bool
    default_channels: tuple[str, ...]
    default_locale: str
    notify_actor: bool
    enabled: bool


@dataclass(frozen=True)
class TemplateRow:
    id: int
    version: int
    subject: str
    body: str
    body_html: str | None
    personal: bool  # reads the recipient: rendered per person, not once per event


PERSONAL_NAMES = frozenset({"recipient"})


@lru_cache(maxsize=4096)
def _reads_recipient(source: str) -> bool:
    try:
        names = meta.find_undeclared_variables(environment(False).parse(source))
    except TemplateSyntaxError:
        return True  # rendering will report the error with its line number
    return bool(names & PERSONAL_NAMES)


def template_row(t: Template) -> TemplateRow:
    texts = (t.subject, t.body, t.body_html or "")
    personal = any(_reads_recipient(s) for s in texts)
    return TemplateRow(t.id, t.version, t.subject, t.body, t.body_html, personal)


class Snapshot:
    def __init__(
        self,
        types: dict[str, TypeInfo],
        templates: dict[tuple[str, str, str], TemplateRow],
        default_channels: tuple[str, ...],
        available: frozenset[str] | None = None,
    ) -> None:
        self._types, self._templates = types, templates
        self._default_channels = default_channels
        self.available = available  # channels with a provider (None: every one planned)

    def event_type(self, source: str, type_: str) -> TypeInfo:
        key = f"{source}.{type_}"
        found = self._types.get(key)
        if found is not None:
            return found
        d = DEFAULT_EVENT_TYPE
        return TypeInfo(
            key=key,
            critical=bool(d["critical"]),
            digestible=bool(d["digestible"]),
            default_channels=self._default_channels,
            default_locale=str(d["default_locale"]),
            notify_actor=bool(d["notify_actor"]),
            enabled=bool(d["enabled"]),
        )

    def template(self, etype: TypeInfo, channel: str, locale: str | None) -> TemplateRow | None:
        """(type, channel, locale) → (type, channel, type's default locale) → the channel
        default ("*") in the same locales → any seeded locale."""
        locales = dict.fromkeys([locale or etype.default_locale, etype.default_locale])
        for key in (etype.key, "*"):
            for loc in (*locales, *FALLBACK_LOCALES):
                found = self._templates.get((key, channel, loc))
                if found is not None:
                    return found
        return None


class Catalog:
    def __init__(
        self,
        default_channels: list[str],
        ttl_s: float = CATALOG_TTL_S,
        available: frozenset[str] | None = None,
    ) -> None:
        self._default_channels = tuple(default_channels)
        self._available = available
        self._ttl_s = ttl_s
        self._snapshot: Snapshot | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._snapshot = None

    async def snapshot(self, session: AsyncSession) -> Snapshot:
        if self._snapshot is not None and time.monotonic() - self._loaded_at < self._ttl_s:
            return self._snapshot
        async with self._lock:  # concurrent batches share one reload
            if self._snapshot is None or time.monotonic() - self._loaded_at >= self._ttl_s:
                self._snapshot = await self._load(session)
                self._loaded_at = time.monotonic()
            return self._snapshot

    async def _load(self, session: AsyncSession) -> Snapshot:
        types = {
            t.key: TypeInfo(
                key=t.key,
                critical=t.critical,
                digestible=t.digestible,
                default_channels=tuple(t.default_channels or self._default_channels),
                default_locale=t.default_locale,
                notify_actor=t.notify_actor,
                enabled=t.enabled,
            )
            for t in await session.scalars(select(EventType))
        }
        templates = {
            (t.event_type, t.channel, t.locale): template_row(t)
            for t in await session.scalars(select(Template))
        }
        return Snapshot(types, templates, self._default_channels, self._available)
