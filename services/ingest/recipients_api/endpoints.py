"""PUT/GET /v1/recipients/{user_id}: the directory used for enrichment, fed by the company's
user service (service API key). DESIGN §4 ``recipients``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import AfterValidator, BaseModel

from libs.common.db.engine import transaction
from libs.common.db.models import Recipient
from libs.common.directory import RecipientFields, recipient_dict, upsert_recipient
from libs.common.email_address import needs_smtputf8
from libs.common.memberships import Membership, memberships_of
from libs.common.principals import Scope, ServicePrincipal
from libs.common.schemas.envelope import IDENT_PATTERN
from libs.common.schemas.storable import no_nul
from services.ingest.auth_deps import CallingService
from services.ingest.errors import ApiError

router = APIRouter(prefix="/v1/recipients", tags=["directory"])

UserId = Annotated[str, Path(min_length=1, max_length=128), AfterValidator(no_nul)]
Tenant = Annotated[str, Query(pattern=IDENT_PATTERN)]


class RecipientOut(BaseModel):
    tenant: str
    user_id: str
    email: str | None
    telegram_chat_id: str | None
    phone: str | None
    locale: str
    timezone: str
    roles: list[str]
    company_id: str | None
    manager_id: str | None
    attributes: dict[str, Any]
    projects: dict[str, Membership] = {}
    updated_at: datetime


def _allowed(caller: ServicePrincipal, tenant: str) -> None:
    """Only the directory scope, in its tenants, reads or rewrites people's addresses: a
    leaked module key must not be able to redirect everyone's e-mail (DESIGN §3.1)."""
    why = caller.refusal(Scope.DIRECTORY, tenant)
    if why is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, why)


def _deliverable(email: str | None, relay_smtputf8: bool) -> None:
    """An address only SMTPUTF8 can carry is refused now, not failed at every send."""
    if email is not None and not relay_smtputf8 and needs_smtputf8(email):
        raise ApiError(
            422,
            f"email: {email!r} has a non-ASCII local part, which only SMTPUTF8 (RFC 6531) can "
            "carry, and HERALD_SMTP_SMTPUTF8 does not say the SMTP server offers it",
            code="needs_smtputf8",
            details={"field": "email"},
        )


async def _read(request: Request, tenant: str, user_id: str) -> RecipientOut:
    async with request.app.state.resources.sessions() as session:
        row = await session.get(Recipient, (tenant, user_id))
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recipient {user_id} in {tenant}")
        projects = await memberships_of(session, tenant, user_id)
    return RecipientOut(**recipient_dict(row), projects=projects)


@router.put("/{user_id}", response_model=RecipientOut, summary="Create or update a person")
async def put_recipient(
    request: Request,
    user_id: UserId,
    fields: RecipientFields,
    caller: CallingService,
    tenant: Tenant = "default",
) -> RecipientOut:
    """Fields left out keep their stored value (a sync never clears a linked Telegram chat)."""
    _allowed(caller, tenant)
    _deliverable(fields.email, request.app.state.settings.smtp_smtputf8)
    async with transaction(request.app.state.resources.sessions) as session:
        await upsert_recipient(session, tenant, user_id, fields)
    return await _read(request, tenant, user_id)


@router.get("/{user_id}", response_model=RecipientOut, summary="What the directory knows")
async def get_recipient(
    request: Request, user_id: UserId, caller: CallingService, tenant: Tenant = "default"
) -> RecipientOut:
    _allowed(caller, tenant)
    return await _read(request, tenant, user_id)
