"""The event envelope v1 (DESIGN §3): the one contract producers, ingest and tests import."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from libs.common.errors import ValidationFailed
from libs.common.schemas.storable import in_utc_range

MAX_EVENT_BYTES = 1024 * 1024  # DESIGN §3: 1 MiB per envelope
IDENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"


class Priority(StrEnum):
    CRITICAL = "critical"
    NORMAL = "normal"
    LOW = "low"


class Entity(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str = Field(min_length=1, max_length=64, examples=["tender"])
    id: str = Field(min_length=1, max_length=128, examples=["T-1001"])
    attributes: dict[str, Any] = Field(default_factory=dict)


class Actor(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=128)


class EventEnvelope(BaseModel):
    """A domain event. (tenant, source, id) is the idempotency key."""

    model_config = ConfigDict(
        extra="ignore",  # unknown top-level fields stay in the raw body but are ignored
        json_schema_extra={
            "examples": [
                {
                    "id": "3f1c2d0e-6b1a-4f0e-9a53-0d6b1f1f7e01",
                    "source": "tenders",
                    "type": "tender.requirement_added",
                    "tenant": "acme",
                    "project_id": "P-42",
                    "entity": {
                        "type": "tender",
                        "id": "T-1001",
                        "attributes": {"deadline": "2026-12-05", "section": "basement"},
                    },
                    "actor": {"id": "u-7"},
                    "recipients": {"assignee": ["u-17"], "owner": ["u-3"]},
                    "priority": "normal",
                    "occurred_at": "2026-11-26T10:00:00Z",
                    "payload": {"title": "Add fire-safety certificate"},
                }
            ]
        },
    )

    id: str = Field(min_length=1, max_length=128, description="producer-unique event id")
    source: str = Field(pattern=IDENT_PATTERN, description="module that emitted the event")
    type: str = Field(pattern=IDENT_PATTERN, description="event type, e.g. tender.created")
    tenant: str = Field(default="default", pattern=IDENT_PATTERN)
    project_id: str | None = Field(default=None, max_length=128)
    entity: Entity
    actor: Actor | None = None
    recipients: dict[str, list[str]] = Field(
        default_factory=dict, description="direct participants by role in the event"
    )
    priority: Priority = Priority.NORMAL
    occurred_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone (e.g. 2026-11-26T10:00:00Z)")
        return in_utc_range(value)

    @property
    def routing_key(self) -> str:
        return f"{self.source}.{self.type}"

    def direct_recipients(self) -> dict[str, list[str]]:
        """user id -> the roles they hold in this event, in envelope order."""
        roles: dict[str, list[str]] = {}
        for role, users in self.recipients.items():
            for user in users:
                roles.setdefault(user, []).append(role)
        return roles


def describe_errors(exc: ValidationError) -> str:
    """A precise, compact reason: 'entity.id: Field required; priority: Input should be …'."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_envelope(raw: bytes) -> tuple[EventEnvelope, dict[str, Any]]:
    """Decode and validate raw bytes; return the envelope and the full JSON body.

    Raises ValidationFailed with a reason naming the bad input class.
    """
    if len(raw) > MAX_EVENT_BYTES:
        raise ValidationFailed(f"too_large: {len(raw)} bytes exceeds {MAX_EVENT_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"not_utf8: invalid byte at offset {exc.start}") from exc
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"not_json: {exc.msg} at line {exc.lineno} col {exc.colno}") from exc
    except RecursionError as exc:  # "[[[[…" thousands deep: rejected, not a poison message
        raise ValidationFailed("not_json: nested too deeply") from exc
    if not isinstance(body, dict):
        raise ValidationFailed(f"not_object: expected a JSON object, got {type(body).__name__}")
    return validate_body(body), body


def validate_body(body: dict[str, Any]) -> EventEnvelope:
    try:
        return EventEnvelope.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed(f"invalid: {describe_errors(exc)}") from exc
