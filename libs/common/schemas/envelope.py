"""The event envelope v1 (DESIGN §3): the one contract producers, ingest and tests import."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from libs.common.runtime.errors import ValidationFailed
from libs.common.schemas import strict_json
from libs.common.schemas.storable import in_utc_range

MAX_EVENT_BYTES = 1024 * 1024  # DESIGN §3: 1 MiB per envelope
IDENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"
MAX_USER_ID_CHARS = 128  # notifications.user_id, recipients.user_id: VARCHAR(128) NOT NULL
DEFAULT_MAX_RECIPIENTS = 10_000  # per event (HERALD_MAX_RECIPIENTS_PER_EVENT)
_PREVIEW_CHARS = 24  # of a skipped id, enough for an operator to recognise it


class Priority(StrEnum):
    CRITICAL = "critical"
    NORMAL = "normal"
    LOW = "low"


@dataclass(frozen=True)
class SkippedRecipient:
    """A recipient id no notification can be stored for; the rest of the event goes on."""

    role: str
    index: int
    problem: str

    def __str__(self) -> str:
        return f"{self.role}[{self.index}]: {self.problem}"


def _id_problem(user: object) -> str | None:
    """Why ``user`` cannot be a recipient id, or None when it can (the column's own rules)."""
    if not isinstance(user, str):
        return f"not a string: {user!r}"[:80]
    if not user:
        return "empty id"
    if len(user) > MAX_USER_ID_CHARS:
        return (
            f"{len(user)} characters, longer than {MAX_USER_ID_CHARS} ({user[:_PREVIEW_CHARS]!r}…)"
        )
    return None


def split_recipients(raw: object) -> tuple[object, tuple[SkippedRecipient, ...]]:
    """The recipients without the ids the database cannot hold, and those ids with why.

    Anything but a mapping of lists is returned as it is, for the model to refuse."""
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        return raw, ()
    skipped = tuple(
        SkippedRecipient(str(role), index, problem)
        for role, users in raw.items()
        for index, user in enumerate(users)
        if (problem := _id_problem(user)) is not None
    )
    if not skipped:
        return raw, ()
    clean = {role: [u for u in users if _id_problem(u) is None] for role, users in raw.items()}
    return clean, skipped


class Entity(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str = Field(min_length=1, max_length=64, examples=["tender"])
    id: str = Field(min_length=1, max_length=128, examples=["T-1001"])
    attributes: dict[str, Any] = Field(default_factory=dict)


MAX_AUDIENCE = 50  # roles or companies one event may address


class Audience(BaseModel):
    """Everyone holding one of ``roles`` (and, when ``companies`` is given too, working for
    one of them) in the event's project, resolved through the directory by the processor."""

    model_config = ConfigDict(extra="ignore")

    roles: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=MAX_AUDIENCE, examples=[["designer"]]
    )
    companies: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=MAX_AUDIENCE
    )

    @model_validator(mode="after")
    def _someone(self) -> Audience:
        if not self.roles and not self.companies:
            raise ValueError("an audience names roles, companies or both")
        return self


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
    audience: Audience | None = Field(
        default=None,
        description="people addressed by role (and company) in the event's project instead of "
        "by id; counted with `recipients` against HERALD_MAX_RECIPIENTS_PER_EVENT",
    )
    recipients: dict[str, list[str]] = Field(
        default_factory=dict,
        description="direct participants by role in the event; an id that is empty, longer "
        f"than {MAX_USER_ID_CHARS} characters or not a string is skipped with its reason",
    )
    priority: Priority = Priority.NORMAL
    occurred_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("recipients", mode="before")
    @classmethod
    def _skip_bad_ids(cls, value: Any) -> Any:
        """One bad id must not fail the whole event (DESIGN §13): it is left out here, and
        ``skipped_recipients(body)`` says why. The reasons are not kept on the model: they
        follow from the body, and a private attribute tripled the cost of every validation."""
        return split_recipients(value)[0]

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


def skipped_recipients(body: Mapping[str, Any]) -> tuple[SkippedRecipient, ...]:
    """The ids of a (valid) event body that ``EventEnvelope.recipients`` leaves out, with why;
    ingest, the processor and the admin all derive them from the stored body."""
    return split_recipients(body.get("recipients"))[1]


def recipient_count(body: Mapping[str, Any]) -> int:
    """Every entry of the body's ``recipients``, repeats and skipped ones included."""
    raw = body.get("recipients")
    if not isinstance(raw, dict):
        return 0
    return sum(len(users) for users in raw.values() if isinstance(users, list))


def check_recipient_cap(body: Mapping[str, Any], limit: int) -> None:
    """Raise ValidationFailed when the event names more recipients than ``limit``: one event's
    fan-out must not exhaust the processor (DESIGN §13)."""
    count = recipient_count(body)
    if count > limit:
        raise ValidationFailed(
            f"too_many_recipients: {count} recipients, more than the limit of {limit} per event"
        )


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
        body = strict_json.loads(text)  # NaN, 1e400, 5,000-digit ints, deep nesting: refused
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"not_json: {exc.msg} at line {exc.lineno} col {exc.colno}") from exc
    if not isinstance(body, dict):
        raise ValidationFailed(f"not_object: expected a JSON object, got {type(body).__name__}")
    return validate_body(body), body


def validate_body(body: dict[str, Any]) -> EventEnvelope:
    try:
        return EventEnvelope.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed(f"invalid: {describe_errors(exc)}") from exc
