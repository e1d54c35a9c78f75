"""Event types, templates, tenants' settings and e-mail layouts, loaded whole and kept for a
couple of seconds.

The tables are small (hundreds of rows) and read for every event, so one query each per
``CATALOG_TTL_S`` replaces several per event; an admin edit shows up within that time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from jinja2 import TemplateSyntaxError, meta
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.catalog.defaults import DEFAULT_EVENT_TYPE
from libs.common.catalog.overrides import Scope, TemplateKey, most_specific, pick_template
from libs.common.db.models import EventType, Template, Tenant
from libs.common.delivery.escalation import Step, stored_chain
from libs.common.templating.email_layout import Layout, layout_for, load_layouts
from libs.common.templating.templates import environment
from libs.common.tenancy.tenant_settings import TenantSettings, stored_settings

CATALOG_TTL_S = 2.0
Prefs = Mapping[tuple[str, str], str]  # (module or "*", channel) -> mode


@dataclass(frozen=True)
class TypeInfo:
    key: str
    critical: bool
    digestible: bool
    default_channels: tuple[str, ...]
    default_locale: str
    notify_actor: bool
    enabled: bool
    escalation: tuple[Step, ...] = ()  # a critical notification's chain
    # (libs/common/delivery/escalation)


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
    """Configuration as of one load: global rows and tenants' overrides, the most specific
    winning (libs/common/catalog/overrides.py); the tenants' own settings and e-mail layouts."""

    def __init__(
        self,
        types: dict[tuple[Scope, str], TypeInfo],
        templates: dict[tuple[Scope, TemplateKey], TemplateRow],
        default_channels: tuple[str, ...],
        available: frozenset[str] | None = None,
        tenants: dict[str, TenantSettings] | None = None,
        layouts: dict[Scope, Layout] | None = None,
    ) -> None:
        self._types, self._templates = types, templates
        self._default_channels = default_channels
        self.available = available  # channels with a provider (None: every one planned)
        self._tenants = tenants or {}
        self._layouts = layouts or {}
        self._modes: dict[str, Prefs] = {}

    def settings(self, tenant: str) -> TenantSettings:
        return self._tenants.get(tenant) or NO_SETTINGS

    def default_modes(self, tenant: str) -> Prefs:
        """The tenant's default mode per (module or "*", channel), for what users did not set."""
        found = self._modes.get(tenant)
        if found is None:
            modes = self.settings(tenant).default_modes
            found = {(m, ch): how for m, chans in modes.items() for ch, how in chans.items()}
            self._modes[tenant] = found
        return found

    def layout(self, tenant: str) -> Layout | None:
        return layout_for(self._layouts, tenant)

    def _channels(self, tenant: str) -> tuple[str, ...]:
        own = self.settings(tenant).default_channels
        return tuple(own) if own else self._default_channels

    def event_type(self, tenant: str, source: str, type_: str) -> TypeInfo:
        key = f"{source}.{type_}"
        found = most_specific(self._types, tenant, key)
        if found is not None:
            if found.default_channels:
                return found
            return replace(found, default_channels=self._channels(tenant))
        d = DEFAULT_EVENT_TYPE
        return TypeInfo(
            key=key,
            critical=bool(d["critical"]),
            digestible=bool(d["digestible"]),
            default_channels=self._channels(tenant),
            default_locale=str(d["default_locale"]),
            notify_actor=bool(d["notify_actor"]),
            enabled=bool(d["enabled"]),
        )

    def template(
        self, tenant: str, etype: TypeInfo, channel: str, locale: str | None
    ) -> TemplateRow | None:
        """(type, channel, locale) → (type, channel, type's default locale) → the channel
        default ("*") in the same locales → any seeded locale; the tenant's row first at each
        step."""
        return pick_template(
            self._templates, tenant, etype.key, channel, locale, etype.default_locale
        )


NO_SETTINGS = TenantSettings()


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
            (t.tenant, t.key): TypeInfo(
                key=t.key,
                critical=t.critical,
                digestible=t.digestible,
                default_channels=tuple(t.default_channels),  # empty: the tenant's defaults
                default_locale=t.default_locale,
                notify_actor=t.notify_actor,
                enabled=t.enabled,
                escalation=stored_chain(t.escalation),
            )
            for t in await session.scalars(select(EventType))
        }
        templates = {
            (t.tenant, (t.event_type, t.channel, t.locale)): template_row(t)
            for t in await session.scalars(select(Template))
        }
        tenants = {
            row.key: stored_settings(row.key, row.settings)
            for row in await session.scalars(select(Tenant))
        }
        layouts = await load_layouts(session)
        return Snapshot(types, templates, self._default_channels, self._available, tenants, layouts)
