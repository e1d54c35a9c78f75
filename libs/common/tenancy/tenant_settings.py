"""What a tenant decides for itself (``tenants.settings``, DESIGN §15), validated.

Every field is optional: a tenant that says nothing gets the deployment's defaults (the
``HERALD_*`` settings). The admin and ``herald tenant`` refuse settings this model refuses, so
the services can trust what they read; a row edited by hand into something invalid is logged
and treated as empty rather than stopping anyone's intake.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from libs.common.delivery.channels import NAME_PATTERN, digest_refusal
from libs.common.delivery.digest_schedule import DigestDefaults, validate

log = logging.getLogger("herald.tenants")

ANY_MODULE = "*"
Mode = Literal["instant", "digest", "off"]
Module = Annotated[str, StringConstraints(pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127})$")]
Channel = Annotated[str, StringConstraints(pattern=NAME_PATTERN.pattern)]  # a channel's shape
MAX_MODULES = 200  # a tenant has dozens of modules; the settings are read on every event


class SettingsError(ValueError):
    """The settings are not valid; the message names the field and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DigestSettings(_Strict):
    """The schedule a user of this tenant gets until they pick one (each part optional:
    HERALD_DIGEST_DEFAULT_* fills the rest)."""

    days: list[int] | None = Field(default=None, description="0 = Monday … 6 = Sunday")
    time: str | None = Field(default=None, description="local HH:MM")
    timezone: str | None = Field(default=None, description="IANA name, for users without one")

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        days = validate(value, "09:00", "UTC")
        if not days:
            raise ValueError("at least one day")
        return days

    @field_validator("time")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is not None:
            validate([], value, "UTC")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            validate([], "09:00", value)
        return value

    def over(self, base: DigestDefaults) -> DigestDefaults:
        """The deployment's defaults with this tenant's choices on top."""
        mine = {
            "digest_default_days": self.days,
            "digest_default_time": self.time,
            "digest_default_timezone": self.timezone,
        }
        return base.model_copy(update={k: v for k, v in mine.items() if v is not None})


Days = Annotated[int, Field(ge=1, le=36_500)]


class RetentionDays(_Strict):
    """How long this tenant's rows are kept, in days (each optional: HERALD_RETENTION_*)."""

    events_days: Days | None = None  # processed and failed events
    notifications_days: Days | None = None
    deliveries_days: Days | None = None
    attempts_days: Days | None = None
    digests_days: Days | None = None  # digests built (never one still to be sent)
    reminders_days: Days | None = None  # reminders sent or cancelled (never a scheduled one)
    escalations_days: Days | None = None  # escalation steps that ended (never a planned one)
    # rejected rows that name this tenant (those naming no registered tenant: the deployment's)
    rejected_days: Days | None = None


class TenantSettings(_Strict):
    digest: DigestSettings = Field(default_factory=DigestSettings)
    retention: RetentionDays = Field(default_factory=RetentionDays)
    default_modes: dict[Module, dict[Channel, Mode]] = Field(
        default_factory=dict,
        max_length=MAX_MODULES,
        description='per module (or "*" for all), the mode of a channel the user has not set',
    )
    default_channels: list[Channel] | None = Field(
        default=None,
        description="channels of an event type without a row (HERALD_PROCESSOR_DEFAULT_CHANNELS)",
    )

    @field_validator("default_modes")
    @classmethod
    def _no_impossible_digest(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for module, modes in value.items():
            for channel, mode in modes.items():
                refusal = digest_refusal(channel) if mode == "digest" else None
                if refusal:
                    raise ValueError(f"{module}.{channel}: {refusal}")
        return value

    def default_mode(self, module: str, channel: str) -> str | None:
        """The tenant's mode for a channel the user has not set: the module's, else "*"'s."""
        own = self.default_modes.get(module, {}).get(channel)
        return own or self.default_modes.get(ANY_MODULE, {}).get(channel)


def parse_settings(data: Any) -> TenantSettings:
    """Validate settings given by an operator; SettingsError naming each problem."""
    try:
        return TenantSettings.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise SettingsError(problems) from exc


def stored_settings(tenant: str, data: Any) -> TenantSettings:
    """Settings read back from the database: never fails (logged, treated as empty)."""
    try:
        return parse_settings(data)
    except SettingsError as exc:
        log.error("tenant %r has invalid settings, using the defaults: %s", tenant, exc)
        return TenantSettings()
