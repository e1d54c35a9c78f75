"""The admin's settings (part of the ingest service's settings, DESIGN §14)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from libs.common.settings import HeraldSettings
from services.ingest.admin.passwords import BadHash, parse_hash

SESSION_MAX_AGE_S = 8 * 3600  # one working day; then log in again


class AdminSettings(HeraldSettings):
    admin_users: dict[str, str] = Field(
        default_factory=dict,
        description='JSON {"<username>": "<scrypt hash>"} '
        "(hash: `herald admin-user NAME --print-hash`); accounts in admin_users work too",
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
    def _valid_hashes(cls, value: dict[str, str]) -> dict[str, str]:
        for user, stored in value.items():
            try:
                parse_hash(stored)
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
