"""POST /v1/events: the HTTP front door, with the same validation and bulk insert as AMQP.

Unlike the consumer, HTTP can answer: an invalid request is refused (422 naming every bad
field, 413 when too large: ``http_body.py``) and nothing is stored, so the producer fixes it
and sends again.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.outage import is_transient
from libs.common.schemas.envelope import EventEnvelope
from libs.common.schemas.openapi import self_contained
from libs.common.security.principals import ServicePrincipal
from libs.common.tenancy.tenants import UNKNOWN_TENANT, TenantRegistry, TenantsUnavailable
from services.ingest.auth_deps import CallingService
from services.ingest.deps import MessageBus, Sessions, Settings, Tenants
from services.ingest.intake import metrics as m
from services.ingest.intake.accepted import publish_accepted
from services.ingest.intake.authorize import keep_refused, refused_items, unknown_tenant_items
from services.ingest.intake.decode import Accepted
from services.ingest.intake.http_body import (
    MAX_BATCH,
    invalid,
    parse_items,
    problem,
    read_limited,
)
from services.ingest.intake.nudge import nudge_processor
from services.ingest.intake.store import Stored, store_events

RETRY_AFTER_S = 5

router = APIRouter(prefix="/v1", tags=["events"])


class Accepted202(BaseModel):
    ids: list[str]
    duplicates: list[bool]


# The body is parsed by hand (size cap, per-item errors), so FastAPI never registers the
# envelope as a component: the schema is inlined rather than referenced.
_ENVELOPE_SCHEMA = self_contained(EventEnvelope.model_json_schema())
_BATCH_SCHEMA = {
    "oneOf": [
        _ENVELOPE_SCHEMA,
        {
            "type": "array",
            "items": _ENVELOPE_SCHEMA,
            "minItems": 1,
            "maxItems": MAX_BATCH,
        },
    ]
}


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted202,
    summary="Submit one event or a batch of up to 500",
    description="Stored ids come back in request order; a repeat of (tenant, source, id) "
    "returns the first row's id with `duplicates[i] = true`. Each event's `source` and "
    "`tenant` must be within the API key's (`directory` events need its `directory` scope); "
    "otherwise 403, and the refused events are kept as rejected with the reason. An event "
    "of a tenant that is not registered or is disabled refuses the batch with 422 "
    "(`unknown_tenant`), and is kept as rejected too.",
    responses={401: {}, 403: {}, 413: {}, 422: {}, 503: {}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _BATCH_SCHEMA}},
        }
    },
)
async def post_events(
    request: Request,
    caller: CallingService,
    settings: Settings,
    sessions: Sessions,
    tenants: Tenants,
    bus: MessageBus,
) -> Accepted202:
    """Each step owns its transaction (not ``deps.Session``): refused events are kept even
    though the request fails, and the batch is committed before anything is published."""
    items = parse_items(await read_limited(request), settings.max_recipients_per_event)
    await authorize(sessions, caller, items)
    await check_tenants(sessions, tenants, caller, items)
    m.RECEIVED.labels("http").inc(len(items))
    stored = await store(sessions, items)
    await publish_accepted(bus, items, stored)  # feeds
    await nudge_processor(bus, [s.event_id for s in stored if not s.duplicate])
    return Accepted202(ids=[s.event_id for s in stored], duplicates=[s.duplicate for s in stored])


async def authorize(
    sessions: async_sessionmaker[AsyncSession], caller: ServicePrincipal, items: list[Accepted]
) -> None:
    """All or nothing: one event outside the key's sources or tenants refuses the batch (403),
    and each such event is kept as a ``rejected`` row with the reason (DESIGN §3.1)."""
    refused = refused_items(caller, items)
    if refused:
        await keep_refused(sessions, refused)
        raise HTTPException(status.HTTP_403_FORBIDDEN, refused[0].reason)


async def check_tenants(
    sessions: async_sessionmaker[AsyncSession],
    registry: TenantRegistry,
    caller: ServicePrincipal,
    items: list[Accepted],
) -> None:
    """All or nothing, like ``authorize``: an event of a tenant that is not registered or is
    disabled refuses the batch (422) and is kept as a ``rejected`` row (DESIGN §15)."""
    try:
        tenants = await registry.all()
    except TenantsUnavailable as exc:
        raise _unavailable() from exc
    refused = unknown_tenant_items(tenants, caller, items)
    if refused:
        await keep_refused(sessions, [r for _, r in refused])
        batch = len(items) > 1
        raise invalid(
            [
                problem(
                    ["body", i, "tenant"] if batch else ["body", "tenant"],
                    r.reason,
                    UNKNOWN_TENANT,
                )
                for i, r in refused
            ]
        )


async def store(sessions: async_sessionmaker[AsyncSession], items: list[Accepted]) -> list[Stored]:
    """One transaction for the whole batch; an unreachable database answers 503."""
    try:
        async with transaction(sessions) as session:
            stored = await store_events(session, items)
    except Exception as exc:
        if not is_transient(exc):
            raise
        raise _unavailable() from exc
    fresh = sum(not s.duplicate for s in stored)
    m.record_outcome("http", fresh, len(stored) - fresh, [])
    return stored


def _unavailable() -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "the database is unavailable; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
