"""Who may emit what, at ingest's two doors (DESIGN §3.1).

* HTTP: the API key's principal. An event outside it answers 403, and is kept as a
  ``rejected`` row with the reason, as it would be over AMQP.
* AMQP: RabbitMQ refuses a ``user_id`` property that is not the connection's own user, so
  ``user_id`` names the publisher; ``HERALD_AMQP_PRODUCERS`` maps it to a principal. Unset,
  the broker is trusted as a whole. In both modes the routing key must be ``<source>.<type>``
  of the body: consumers bound by routing key (feeds, ``HERALD_INGEST_BINDINGS``) must not be
  fooled by a mislabeled event. A message ingest may not take is stored ``rejected`` (and
  acked), never dropped.

Both doors also refuse an event of a tenant that is not registered or is disabled (DESIGN
§15): it is stored ``rejected`` (``unknown_tenant``) and never processed; HTTP answers 422.

Reasons start with their class (``unauthenticated``, ``forbidden``, ``routing_key``,
``unknown_tenant``), which is also the ``herald_ingest_rejected_total`` label.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Message
from libs.common.bus.origin import origin
from libs.common.db.engine import transaction
from libs.common.db.outage import is_transient
from libs.common.security.principals import ServicePrincipal
from libs.common.tenancy.tenants import TenantInfo, refusal
from services.ingest.intake import metrics as m
from services.ingest.intake.decode import Accepted, Decoded, Rejected
from services.ingest.intake.rejected_tenant import key_tenant
from services.ingest.intake.store import store_rejected

log = logging.getLogger("herald.ingest.authorize")

PRINCIPAL_HEADER = "x-herald-principal"  # on a refused HTTP event's row: which key sent it


def refused_items(principal: ServicePrincipal, items: Sequence[Accepted]) -> list[Rejected]:
    """The events of an HTTP batch this key may not emit, as the rows that keep them."""
    refused = []
    for item in items:
        why = principal.event_refusal(item.envelope.source, item.envelope.tenant)
        if why is not None:
            raw = json.dumps(item.body).encode()
            claims = (item.envelope.tenant, *key_tenant(principal))
            header = {PRINCIPAL_HEADER: principal.name}
            refused.append(Rejected(raw, header, f"forbidden: {why}", claims))
    return refused


async def keep_refused(sessions: async_sessionmaker[AsyncSession], refused: list[Rejected]) -> None:
    """Store refused events for the record. The producer is told 403 either way, so a
    database outage here only costs the record (logged), not the answer."""
    try:
        async with transaction(sessions) as session:
            await store_rejected(session, refused)
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("database unavailable: %d refused events not recorded: %r", len(refused), exc)
        return
    m.record_outcome("http", 0, 0, [r.kind for r in refused])


def tenant_refused(
    tenants: Mapping[str, TenantInfo], message: Message, decoded: Decoded
) -> Decoded:
    """An accepted message of an unknown or disabled tenant becomes a rejected one."""
    if isinstance(decoded, Accepted):
        why = refusal(tenants, decoded.envelope.tenant)
        if why is not None:
            return _rejected(message, why, decoded.envelope.tenant)
    return decoded


def unknown_tenant_items(
    tenants: Mapping[str, TenantInfo], principal: ServicePrincipal, items: Sequence[Accepted]
) -> list[tuple[int, Rejected]]:
    """The events of an HTTP batch whose tenant may not be served, with their index."""
    refused = []
    for index, item in enumerate(items):
        why = refusal(tenants, item.envelope.tenant)
        if why is not None:
            raw = json.dumps(item.body).encode()
            claims = (item.envelope.tenant, *key_tenant(principal))
            header = {PRINCIPAL_HEADER: principal.name}
            refused.append((index, Rejected(raw, header, why, claims)))
    return refused


class AmqpGate:
    """Judges each decoded message by its publisher and routing key."""

    def __init__(self, producers: Mapping[str, ServicePrincipal] | None) -> None:
        self._producers = producers

    def judge(self, message: Message, decoded: Decoded) -> Decoded:
        user, routing_key = origin(message)  # after a dead-letter replay too
        principal = None
        if self._producers is not None:
            principal = self._producers.get(user) if user else None
            if principal is None:
                return _rejected(message, _unauthenticated(user))
        if isinstance(decoded, Rejected):
            return decoded
        expected = decoded.envelope.routing_key
        if routing_key is not None and routing_key != expected:
            why = f"{routing_key!r} is not {expected!r} (<source>.<type> of the body)"
            return _rejected(message, f"routing_key: {why}", decoded.envelope.tenant)
        envelope = decoded.envelope
        why_not = principal and principal.event_refusal(envelope.source, envelope.tenant)
        return _rejected(message, f"forbidden: {why_not}", envelope.tenant) if why_not else decoded


def amqp_gate(producers: Mapping[str, ServicePrincipal] | None) -> AmqpGate:
    """The gate, said once at start-up when it trusts the broker as a whole."""
    if producers is None:
        log.warning(
            "HERALD_AMQP_PRODUCERS is not set: every user of the broker may emit any event "
            "for any source and tenant (DESIGN §3.1); only routing keys are checked"
        )
    else:
        log.info("AMQP producers: %d broker users mapped", len(producers))
    return AmqpGate(producers)


def _unauthenticated(user: str | None) -> str:
    if not user:
        return "unauthenticated: message has no user_id (HERALD_AMQP_PRODUCERS is set)"
    return f"unauthenticated: broker user {user!r} is not in HERALD_AMQP_PRODUCERS"


def _rejected(message: Message, reason: str, tenant: str | None = None) -> Rejected:
    """``tenant``: the envelope's, when it was read (else ``rejected_tenant`` reads the bytes)."""
    return Rejected(message.body, message.headers, reason, (tenant,) if tenant else ())
