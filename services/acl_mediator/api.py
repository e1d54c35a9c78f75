"""HTTP edge of the mediator: decode, call the checker, encode. Callers use service API keys."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from libs.common.schemas.permissions import (
    CheckRequest,
    CheckResponse,
    InvalidateRequest,
    InvalidateResponse,
)
from libs.common.security.api_keys import match_api_key
from libs.common.security.principals import Scope, ServicePrincipal
from libs.common.web.app_state import from_state
from services.acl_mediator.cache import Verdict
from services.acl_mediator.checker import Checker
from services.acl_mediator.docs import CHECK_DESCRIPTION, INVALIDATE_DESCRIPTION
from services.acl_mediator.settings import MediatorSettings

# 1,000 items of at most ~600 bytes each; anything larger cannot be a valid batch
MAX_BODY_BYTES = 1024 * 1024
_ENCODED = {
    (read, write): json.dumps(
        {"read": read, "write": write, "error": None}, separators=(",", ":")
    ).encode()
    for read in (False, True)
    for write in (False, True)
}


# What the handlers get from the running app, typed (the lifespan keeps them on app.state).
Settings = Annotated[MediatorSettings, Depends(from_state("settings", MediatorSettings))]
TheChecker = Annotated[Checker, Depends(from_state("checker", Checker))]


async def calling_service(
    settings: Settings, x_api_key: Annotated[str | None, Header()] = None
) -> ServicePrincipal:
    """A valid X-API-Key with the ``permissions`` scope: a producer's key may not probe who
    may read what (DESIGN §3.1)."""
    keys: dict[str, ServicePrincipal] = settings.api_keys
    caller = match_api_key(keys, x_api_key)
    if caller is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown X-API-Key")
    if not caller.has(Scope.PERMISSIONS):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{caller.name} lacks the permissions scope")
    return caller


def in_tenant(caller: ServicePrincipal, tenant: str) -> None:
    why = caller.refusal(Scope.PERMISSIONS, tenant)
    if why is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, why)


router = APIRouter(prefix="/v1/permissions", tags=["permissions"])
Caller = Annotated[ServicePrincipal, Depends(calling_service)]


@router.post(
    "/check",
    summary="May these users read or write these objects?",
    description=CHECK_DESCRIPTION,
    response_model=CheckResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/CheckRequest"}}
            },
        }
    },
)
async def check(request: Request, caller: Caller, checker: TheChecker) -> Response:
    batch = parse_body(await read_capped(request), CheckRequest)
    in_tenant(caller, batch.tenant)
    verdicts = await checker.check(batch.tenant, batch.items)
    return Response(encode(verdicts), media_type="application/json")


@router.post(
    "/invalidate",
    summary="Forget cached answers about a user or an object",
    description=INVALIDATE_DESCRIPTION,
    response_model=InvalidateResponse,
)
async def invalidate(body: InvalidateRequest, caller: Caller, checker: TheChecker) -> Any:
    in_tenant(caller, body.tenant)
    obj = None
    if body.module and body.object_type and body.object_id:
        obj = (body.module, body.object_type, body.object_id)
    return InvalidateResponse(removed=checker.invalidate(body.tenant, body.user_id, obj))


async def read_capped(request: Request) -> bytes:
    """The body, refused with 422 past MAX_BODY_BYTES before it is all in memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestValidationError(
                [
                    {
                        "type": "too_large",
                        "loc": ("body",),
                        "msg": f"body over {MAX_BODY_BYTES} bytes",
                    }
                ]
            )
        chunks.append(chunk)
    return b"".join(chunks)


def parse_body(raw: bytes, model: type[CheckRequest]) -> CheckRequest:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        raise RequestValidationError(
            # without "input": a 1,000-item batch is not worth echoing back
            [{**err, "loc": ("body", *err["loc"]), "input": None} for err in errors]
        ) from None


def encode(verdicts: list[Verdict]) -> bytes:
    """The answer assembled from pre-encoded fragments: the four error-free answers are
    constants, so a warm batch of 100 costs a join, not 100 serializations."""
    parts = [_ENCODED[(v.read, v.write)] if v.error is None else _encode_error(v) for v in verdicts]
    return b'{"results":[' + b",".join(parts) + b"]}"


def _encode_error(verdict: Verdict) -> bytes:
    return json.dumps(
        {"read": False, "write": False, "error": verdict.error}, separators=(",", ":")
    ).encode()
