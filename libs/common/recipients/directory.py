"""The directory used for enrichment (DESIGN §4 ``recipients``): one record schema and one
upsert, shared by ``PUT /v1/recipients/{user_id}`` (ingest) and ``directory.user.updated``
events (processor), so both paths validate and store a person the same way."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import available_timezones

from pydantic import ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.dialect import upsert
from libs.common.db.models import Recipient, utcnow
from libs.common.recipients.memberships import (
    MAX_PROJECTS,
    Membership,
    ProjectId,
    replace_memberships,
)
from libs.common.schemas.storable import StorableModel

# Deliberately loose: the mail server is the real judge; this only catches obvious garbage.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$"
# E.164: "+", a country code that does not start with 0, at most 15 digits in all
PHONE_PATTERN = re.compile(r"^\+[1-9][0-9]{6,14}$")
MAX_ROLES = 100
_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES  # loading the tz database once: ~600 names, a few ms
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


class RecipientFields(StorableModel):
    """A person as the directory knows them. Omitted fields keep their stored value, so a
    user-service sync never wipes the Telegram chat Herald's bot linked."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320, examples=["ivanova@example.com"])
    telegram_chat_id: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=16, examples=["+79161234567"])
    locale: str | None = Field(default=None, pattern=LOCALE_PATTERN, examples=["ru"])
    timezone: str | None = Field(default=None, max_length=64, examples=["Europe/Moscow"])
    roles: list[str] | None = Field(default=None, max_length=MAX_ROLES, examples=[["designer"]])
    company_id: str | None = Field(default=None, max_length=128)
    manager_id: str | None = Field(default=None, max_length=128)
    attributes: dict[str, Any] | None = None
    projects: dict[ProjectId, Membership] | None = Field(
        default=None,
        max_length=MAX_PROJECTS,
        description="roles and company per project (libs/common/recipients/memberships.py); "
        "when sent, it replaces every membership the person had",
        examples=[{"P-42": {"roles": ["designer"], "company_id": "c-5"}}],
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL_PATTERN.match(value):
            raise ValueError("not an e-mail address")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not PHONE_PATTERN.match(value):
            raise ValueError("not an E.164 number: a + and 7 to 15 digits, e.g. +79161234567")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None and value not in _zones():
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Moscow)")
        return value

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not all(isinstance(r, str) and 0 < len(r) <= 64 for r in value):
            raise ValueError("roles are non-empty strings of at most 64 characters")
        return value


async def upsert_recipient(
    session: AsyncSession, tenant: str, user_id: str, fields: RecipientFields
) -> None:
    """Insert the person, or update only the fields that were sent. Flush only."""
    given = fields.model_dump(exclude_unset=True, exclude={"projects"})
    # a sent null for a list/dict column means "empty", not SQL NULL (the columns are NOT NULL)
    if "roles" in given and given["roles"] is None:
        given["roles"] = []
    if "attributes" in given and given["attributes"] is None:
        given["attributes"] = {}
    for key in ("locale", "timezone"):
        if key in given and given[key] is None:
            del given[key]  # keep the default rather than store NULL in a NOT NULL column
    now = utcnow()
    row = {
        "tenant": tenant,
        "user_id": user_id,
        "locale": "ru",
        "timezone": "Europe/Moscow",
        "roles": [],
        "attributes": {},
        **given,
        "updated_at": now,
    }
    stmt = upsert(session, Recipient).values(**row)
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant", "user_id"], set_={**given, "updated_at": now}
    )
    await session.execute(stmt)
    if fields.projects is not None:
        await replace_memberships(session, tenant, user_id, fields.projects)


def recipient_dict(row: Recipient) -> dict[str, Any]:
    return {
        "tenant": row.tenant,
        "user_id": row.user_id,
        "email": row.email,
        "telegram_chat_id": row.telegram_chat_id,
        "phone": row.phone,
        "locale": row.locale,
        "timezone": row.timezone,
        "roles": list(row.roles or []),
        "company_id": row.company_id,
        "manager_id": row.manager_id,
        "attributes": dict(row.attributes or {}),
        "updated_at": row.updated_at,
    }
