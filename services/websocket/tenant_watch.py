"""Connections of a tenant that is disabled or removed are closed (DESIGN §15).

A token is checked against the tenant registry when a connection opens and when it is
refreshed; this closes the ones already open. Every ``REGISTRY_TTL_S`` the watch reads the
registry afresh (the token verifier shares that copy) and closes each connection whose tenant
is no longer served with 4403, "do not retry": a tenant disabled in the admin or with
``herald tenant disable`` stops receiving within that interval on every gateway process. A
``resume`` asked by such a connection meanwhile is refused the same way. An unreadable
registry closes nothing: that is our outage, not a disable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from prometheus_client import Counter

from libs.common.tenancy.tenants import (
    REGISTRY_TTL_S,
    TenantInfo,
    TenantRegistry,
    TenantsUnavailable,
)
from libs.common.tenancy.tenants import refusal as tenant_refusal
from services.websocket import protocol
from services.websocket.push import Pusher
from services.websocket.registry import Client, Registry

log = logging.getLogger("herald.websocket.tenant_watch")

TENANT_CLOSES = Counter(
    "herald_ws_tenant_closes_total", "Open connections closed because their tenant was refused"
)


class TenantWatch:
    def __init__(
        self,
        tenants: TenantRegistry,
        registry: Registry,
        pusher: Pusher,
        interval_s: float = REGISTRY_TTL_S,
    ) -> None:
        self.tenants, self.registry, self.pusher = tenants, registry, pusher
        self.interval_s = interval_s

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.once()
            except Exception:  # the next pass tries again; the gateway keeps serving
                log.exception("tenant watch pass failed")

    async def once(self) -> int:
        """Close the connections of refused tenants; how many were closed."""
        self.tenants.invalidate()  # a fresh read: the bound is one interval, not two
        known = await self._known()
        if known is None:
            return 0
        refused: dict[str, str] = {}
        for tenant in {tenant for tenant, _ in list(self.registry.users)}:
            why = tenant_refusal(known, tenant)
            if why is not None:
                refused[tenant] = why
        closed = 0
        for client in self.registry.clients() if refused else ():
            why = refused.get(client.tenant)
            if why is not None and not client.dropped:
                self._close(client, why)
                closed += 1
        return closed

    async def refuse(self, client: Client) -> bool:
        """Close ``client`` if its tenant is no longer served (before a resume); True if so."""
        known = await self._known()
        why = None if known is None else tenant_refusal(known, client.tenant)
        if why is None or client.dropped:
            return client.dropped
        self._close(client, why)
        return True

    async def _known(self) -> Mapping[str, TenantInfo] | None:
        try:
            return await self.tenants.all()
        except TenantsUnavailable as exc:
            log.warning("tenant registry unavailable, no connection closed: %s", exc)
            return None

    def _close(self, client: Client, why: str) -> None:
        client.dropped = True
        TENANT_CLOSES.inc()
        self.pusher.close(client, protocol.CLOSE_TENANT_REFUSED, f"{why}; do not retry")
