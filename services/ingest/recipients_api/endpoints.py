"""PUT/GET /v1/recipients/{user_id}: the directory used for enrichment, fed by the company's
user service (service API key). DESIGN §4 ``recipients``."""

from __future__ import annotations

from fastapi import APIRouter

from libs.common.recipients.directory import RecipientFields, upsert_recipient
from services.ingest.auth_deps import CallingService
from services.ingest.deps import Session, Settings
from services.ingest.recipients_api import service
from services.ingest.recipients_api.schemas import RecipientOut, Tenant, UserId

router = APIRouter(prefix="/v1/recipients", tags=["directory"])


@router.put("/{user_id}", response_model=RecipientOut, summary="Create or update a person")
async def put_recipient(
    user_id: UserId,
    fields: RecipientFields,
    caller: CallingService,
    settings: Settings,
    session: Session,
    tenant: Tenant = "default",
) -> RecipientOut:
    """Fields left out keep their stored value (a sync never clears a linked Telegram chat)."""
    service.check_allowed(caller, tenant)
    service.check_deliverable(fields.email, settings.smtp_smtputf8)
    await upsert_recipient(session, tenant, user_id, fields)
    return await service.read(session, tenant, user_id)  # as written, committed on return


@router.get("/{user_id}", response_model=RecipientOut, summary="What the directory knows")
async def get_recipient(
    user_id: UserId, caller: CallingService, session: Session, tenant: Tenant = "default"
) -> RecipientOut:
    service.check_allowed(caller, tenant)
    return await service.read(session, tenant, user_id)
