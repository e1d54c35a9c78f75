"""The admin's settings (part of the ingest service's settings, DESIGN §14)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from libs.common.runtime.settings import HeraldSettings
from services.ingest.admin.passwords import BadHash, parse_hash

SESSION_MAX_AGE_S = 8 * 3600  # one working day; then log in again


class BoundAccount(BaseModel):
    """An account from configuration that sees only some tenants (DESIGN §15)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hash: str
    tenants: list[str] = Field(min_length=1)


class AdminSettings(HeraldSettings):
    admin_users: dict[str, str | BoundAccount] = Field(
        default_factory=dict,
        description='JSON {"<username>": "<scrypt hash>"} for a global admin, or '
        '{"<username>": {"hash": "<scrypt hash>", "tenants": ["acme"]}} for one bound to '
        "tenants (hash: `herald admin-user NAME --print-hash`); accounts in admin_users "
        "work too",
    )
    admin_session_secret: str | None = Field(
        default=None,
        min_length=32,
        description="signs the admin session cookie; the admin UI is off while it is unset",
    )
    admin_session_max_age_s: int = Field(default=SESSION_MAX_AGE_S, ge=60)
    admin_cookie_secure: bool = Field(
        default=False, description="send the session cookie over HTTPS only (set behind TLS)"
    )

    @field_validator("admin_users")
    @classmethod
    def _valid_hashes(cls, value: dict[str, str | BoundAccount]) -> dict[str, str | BoundAccount]:
        for user, account in value.items():
            try:
                parse_hash(account if isinstance(account, str) else account.hash)
            except BadHash as exc:
                raise ValueError(f"password hash of {user!r}: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _secret_with_users(self) -> AdminSettings:
        if self.admin_users and not self.admin_session_secret:
            raise ValueError(
                "HERALD_ADMIN_SESSION_SECRET is required when HERALD_ADMIN_USERS is set"
            )
        return self
