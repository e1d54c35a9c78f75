"""Which tenant a rejected row belongs to (DESIGN §15).

A refused message is kept whatever it is, and its tenant is only what it claims: the
envelope's ``tenant`` (read from the bytes when the envelope did not validate), else over HTTP
the producer key's tenant when the key has exactly one. The row gets the first claim that names
a registered tenant (enabled or not), so that tenant's retention and its bound admins apply to
it; a claim of no registered tenant, or none at all, leaves it NULL — global admins only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Tenant
from libs.common.security.principals import ANY, ServicePrincipal
from services.ingest.intake.decode import Rejected

MAX_PARSED_BYTES = 1024 * 1024  # larger messages are not parsed again for their tenant
MAX_TENANT_CHARS = 128  # events.tenant


def key_tenant(principal: ServicePrincipal) -> tuple[str, ...]:
    """The key's tenant as a claim, when it has exactly one."""
    only = list(principal.tenants)
    return (only[0],) if len(only) == 1 and only[0] != ANY else ()


def named_tenant(raw: bytes) -> str | None:
    """The string ``tenant`` field of a JSON object, if the bytes are one."""
    if len(raw) > MAX_PARSED_BYTES:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deep
        return None
    tenant = data.get("tenant") if isinstance(data, dict) else None
    return tenant if isinstance(tenant, str) and 0 < len(tenant) <= MAX_TENANT_CHARS else None


def _claims(item: Rejected) -> tuple[str, ...]:
    if item.claims:
        return item.claims
    named = named_tenant(item.raw)
    return (named,) if named else ()


async def tenants_of(session: AsyncSession, items: Sequence[Rejected]) -> list[str | None]:
    """Each item's tenant: its first claim that is a registered tenant, else None."""
    claims = [_claims(item) for item in items]
    wanted = {tenant for each in claims for tenant in each}
    known: set[str] = set()
    if wanted:
        known = set(await session.scalars(select(Tenant.key).where(Tenant.key.in_(wanted))))
    return [next((t for t in each if t in known), None) for each in claims]
