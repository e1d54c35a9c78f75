"""FastAPI dependencies: the user behind a Bearer JWT, the service behind an X-API-Key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from libs.common.security.auth import (
    AuthError,
    KeysUnavailable,
    Principal,
    match_api_key,
)
from libs.common.security.principals import ServicePrincipal
from services.ingest.deps import Settings, Verifier

_bearer = HTTPBearer(auto_error=False, description="a user JWT (sub, tenant, aud, iss, exp)")


async def current_user(
    verifier: Verifier,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Every user-facing query is scoped to this principal's (tenant, user_id)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing Bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return await verifier.averify(credentials.credentials)
    except KeysUnavailable as exc:  # 401 would make a frontend log the user out
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, exc.reason, headers={"Retry-After": "5"}
        ) from exc
    except AuthError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, exc.reason, headers={"WWW-Authenticate": "Bearer"}
        ) from exc


async def calling_service(
    settings: Settings, x_api_key: Annotated[str | None, Header()] = None
) -> ServicePrincipal:
    """The principal a valid service API key maps to (HERALD_API_KEYS); 401 otherwise; what
    it may do is each route's question. ``async`` although it never awaits: FastAPI runs a
    plain ``def`` dependency in a worker thread, a thread hop per request for a lookup."""
    principal = match_api_key(settings.api_keys, x_api_key)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown X-API-Key")
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
CallingService = Annotated[ServicePrincipal, Depends(calling_service)]
