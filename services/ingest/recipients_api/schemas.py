"""What /v1/recipients/{user_id} reads and answers (the fields in: ``RecipientFields``,
libs/common/recipients/directory.py, shared with ``directory.user.updated``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel

from libs.common.recipients.memberships import Membership
from libs.common.schemas.envelope import IDENT_PATTERN
from libs.common.schemas.storable import no_nul

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
