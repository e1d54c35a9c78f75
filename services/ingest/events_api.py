"""POST /v1/events: the HTTP front door, with the same validation as the AMQP consumer."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel

from libs.common.db.engine import transaction
from libs.common.errors import ValidationFailed
from libs.common.schemas.envelope import MAX_EVENT_BYTES, EventEnvelope, validate_body
from services.ingest import metrics as m
from services.ingest.auth_deps import CallingService
from services.ingest.intake import store_event
from services.ingest.nudge import nudge_processor

MAX_BATCH = 500
MAX_REQUEST_BYTES = 16 * MAX_EVENT_BYTES  # a batch of 500 small events fits easily

router = APIRouter(prefix="/v1", tags=["events"])


class Accepted(BaseModel):
    ids: list[str]
    duplicates: list[bool]


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="Submit one event or a batch of up to 500",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/EventEnvelope"},
                            {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/EventEnvelope"},
                                "maxItems": MAX_BATCH,
                            },
                        ]
                    }
                }
            },
        }
    },
)
async def post_events(request: Request, caller: CallingService) -> Accepted:
    envelopes, bodies = await _read(request)
    for env in envelopes:
        if caller != "*" and env.source != caller:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"key for {caller!r} may not emit source {env.source!r}"
            )
    m.RECEIVED.labels("http").inc(len(envelopes))
    async with transaction(request.app.state.resources.sessions) as session:
        stored = [await store_event(session, e, b) for e, b in zip(envelopes, bodies, strict=True)]
    fresh = [s.event_id for s in stored if not s.duplicate]
    m.STORED.labels("http").inc(len(fresh))
    m.DUPLICATES.labels("http").inc(len(stored) - len(fresh))
    await nudge_processor(request.app.state.resources.bus, fresh)
    return Accepted(ids=[s.event_id for s in stored], duplicates=[s.duplicate for s in stored])


async def _read(request: Request) -> tuple[list[EventEnvelope], list[dict[str, Any]]]:
    raw = await request.body()
    if len(raw) > MAX_REQUEST_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "request body too large")
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPException(422, [{"loc": ["body"], "msg": f"not JSON: {exc}"}]) from exc
    items = parsed if isinstance(parsed, list) else [parsed]
    if not items or len(items) > MAX_BATCH:
        raise HTTPException(422, [{"loc": ["body"], "msg": f"send 1 to {MAX_BATCH} events"}])
    envelopes, errors = [], []
    for index, item in enumerate(items):
        if len(json.dumps(item).encode()) > MAX_EVENT_BYTES:
            raise HTTPException(413, f"event {index} exceeds {MAX_EVENT_BYTES} bytes")
        if not isinstance(item, dict):
            errors.append({"loc": ["body", index], "msg": "expected a JSON object"})
            continue
        try:
            envelopes.append(validate_body(item))
        except ValidationFailed as exc:
            errors.append({"loc": ["body", index], "msg": exc.reason})
    if errors:
        raise HTTPException(422, errors)
    return envelopes, items
