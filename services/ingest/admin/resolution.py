"""Tenant overrides in the admin (DESIGN §15): the ``tenant`` field of configuration rows, and
which row an event of a given tenant would use — by the rules the processor renders with
(libs/common/catalog/overrides.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.catalog.defaults import DEFAULT_EVENT_TYPE
from libs.common.catalog.overrides import DEFAULT_KEY, Scope, TemplateKey, pick_template
from libs.common.db.models import EventType, Template, Tenant

GLOBAL_LABEL = "every tenant"


async def tenant_field(session: AsyncSession, value: Any) -> str | None:
    """A configuration row's tenant: empty = every tenant (None), else a registered one."""
    tenant = str(value or "").strip()
    if not tenant:
        return None
    if await session.get(Tenant, tenant) is None:
        raise ValueError(f"tenant: no tenant {tenant[:64]!r} is registered (empty = every tenant)")
    return tenant


async def event_type_row(session: AsyncSession, tenant: Scope, key: str) -> EventType | None:
    """The event type row an event of ``tenant`` uses (its own, else the global one)."""
    rows = await session.scalars(
        select(EventType).where(
            EventType.key == key, or_(EventType.tenant.is_(None), EventType.tenant == tenant)
        )
    )
    found = {row.tenant: row for row in rows}
    return found.get(tenant) or found.get(None)


async def twin_of(
    session: AsyncSession, model: Any, tenant: Scope, pk: object, **key: Any
) -> int | None:
    """The id of another row of ``model`` with the same scope and key (the partial unique
    indexes would refuse this one), or None."""
    scope = model.tenant.is_(None) if tenant is None else model.tenant == tenant
    stmt = select(model.id).where(scope, *(getattr(model, k) == v for k, v in key.items()))
    found: int | None = await session.scalar(stmt)
    return found if found is not None and str(found) != str(pk) else None


def scope_label(tenant: Scope) -> str:
    return f"of {tenant}" if tenant else "for every tenant"


@dataclass(frozen=True)
class Resolution:
    """Which template an event of ``tenant`` would use on ``channel`` for a reader in ``locale``."""

    tenant: str
    template_id: int | None
    scope: Scope
    event_type: str | None
    locale: str | None

    def describe(self) -> str:
        if self.template_id is None:
            return f"an event of {self.tenant} gets the built-in plain text (no template)"
        whose = f"{self.tenant}'s own" if self.scope else GLOBAL_LABEL
        return (
            f"an event of {self.tenant} uses template #{self.template_id} "
            f"({self.event_type}, {self.locale}, {whose})"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "template_id": self.template_id,
            "scope": self.scope,
            "description": self.describe(),
        }


async def resolve_template(
    session: AsyncSession, tenant: str, event_type: str, channel: str, locale: str | None
) -> Resolution:
    etype = await event_type_row(session, tenant, event_type)
    default_locale = etype.default_locale if etype else str(DEFAULT_EVENT_TYPE["default_locale"])
    found = await session.scalars(
        select(Template).where(
            Template.channel == channel,
            Template.event_type.in_([event_type, DEFAULT_KEY]),
            or_(Template.tenant.is_(None), Template.tenant == tenant),
        )
    )
    rows: dict[tuple[Scope, TemplateKey], Template] = {
        (t.tenant, (t.event_type, t.channel, t.locale)): t for t in found
    }
    chosen = pick_template(rows, tenant, event_type, channel, locale, default_locale)
    if chosen is None:
        return Resolution(tenant, None, None, None, None)
    return Resolution(tenant, chosen.id, chosen.tenant, chosen.event_type, chosen.locale)
