"""Who may read or rewrite the directory, which addresses it takes, and what it answers."""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Recipient
from libs.common.delivery.email_address import needs_smtputf8
from libs.common.recipients.directory import recipient_dict
from libs.common.recipients.memberships import memberships_of
from libs.common.security.principals import Scope, ServicePrincipal
from services.ingest.errors import ApiError
from services.ingest.recipients_api.schemas import RecipientOut


def check_allowed(caller: ServicePrincipal, tenant: str) -> None:
    """Only the directory scope, in its tenants, reads or rewrites people's addresses: a
    leaked module key must not be able to redirect everyone's e-mail (DESIGN §3.1)."""
    why = caller.refusal(Scope.DIRECTORY, tenant)
    if why is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, why)


def check_deliverable(email: str | None, relay_smtputf8: bool) -> None:
    """An address only SMTPUTF8 can carry is refused now, not failed at every send."""
    if email is not None and not relay_smtputf8 and needs_smtputf8(email):
        raise ApiError(
            422,
            f"email: {email!r} has a non-ASCII local part, which only SMTPUTF8 (RFC 6531) can "
            "carry, and HERALD_SMTP_SMTPUTF8 does not say the SMTP server offers it",
            code="needs_smtputf8",
            details={"field": "email"},
        )


async def read(session: AsyncSession, tenant: str, user_id: str) -> RecipientOut:
    row = await session.get(Recipient, (tenant, user_id), populate_existing=True)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recipient {user_id} in {tenant}")
    projects = await memberships_of(session, tenant, user_id)
    return RecipientOut(**recipient_dict(row), projects=projects)
