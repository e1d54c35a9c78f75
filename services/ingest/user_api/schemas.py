"""Request and response models of the user API (the inbox item itself is libs/common's)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema

from libs.common.delivery.channels import registry
from libs.common.schemas.envelope import IDENT_PATTERN
from libs.common.schemas.inbox import InboxItem, UnreadCounts
from libs.common.schemas.openapi import self_contained
from libs.common.schemas.storable import StorableModel
from libs.common.subscriptions.filters import Condition
from libs.common.subscriptions.reminders import Remind

# The channels a user can set preferences for and subscribe with: every registered one
# (libs/common/delivery/channels.py), so the user can switch off whatever an event type may send.
CHANNELS: tuple[str, ...] = registry().names  # the OpenAPI examples only
MAX_SUBSCRIPTION_CHANNELS = 32  # a sanity cap; unknown names are refused against the registry
ALL_SOURCES = "*"  # a preference row for every module without a row of its own
SOURCE_PATTERN = rf"{IDENT_PATTERN}|^\*$"

MAX_PAGE = 200
# Row ids are BIGINT: a larger one cannot exist, and the driver refuses to send it (a 500)
MAX_ID = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
DEFAULT_PAGE = 50


class Mode(StrEnum):
    INSTANT = "instant"
    DIGEST = "digest"
    OFF = "off"


# ---- inbox --------------------------------------------------------------------------------


ITEM_EXAMPLE: dict[str, Any] = {
    "id": 1234,
    "event_id": "3f1c2d0e-6b1a-4f0e-9a53-0d6b1f1f7e01",
    "source": "tenders",
    "type": "tender.requirement_added",
    "entity_type": "tender",
    "entity_id": "T-1001",
    "project_id": "P-42",
    "priority": "normal",
    "reason": "direct:assignee",
    "title": "Add fire-safety certificate",
    "body": "tenders: tender T-1001",
    "created_at": "2026-11-26T10:00:02Z",
    "read_at": None,
    "archived_at": None,
}
COUNTS_EXAMPLE: dict[str, Any] = {"total": 3, "by_source": {"tenders": 2, "design": 1}}


class InboxPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [ITEM_EXAMPLE], "next_cursor": "djE6MTIzNA"}]}
    )

    items: list[InboxItem]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next (older) page; null on the last page",
        examples=["djE6MTIzNA"],
    )


class MarkResult(BaseModel):
    """The item after the change and the user's counters, so a badge updates in one trip."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item": {**ITEM_EXAMPLE, "read_at": "2026-11-26T10:05:00Z"},
                    "changed": True,
                    "counts": COUNTS_EXAMPLE,
                }
            ]
        }
    )

    item: InboxItem
    changed: bool = Field(description="false when the item already was in that state")
    counts: UnreadCounts


class ReadAllRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(
        default=None, pattern=IDENT_PATTERN, description="only this module's items"
    )
    up_to_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="only items with id <= this: what the user saw when they clicked, "
        "so a notification arriving meanwhile stays unread",
    )


class ReadAllResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"updated": 12, "counts": COUNTS_EXAMPLE}]}
    )

    updated: int = Field(ge=0, examples=[12])
    counts: UnreadCounts


# ---- preferences --------------------------------------------------------------------------


class ChannelSetting(BaseModel):
    mode: Mode
    is_default: bool = Field(description="no explicit choice; comes from the module's types")
    can_turn_off: bool = Field(description="false when a critical event type uses this channel")
    can_digest: bool = Field(description="false for a channel without digests (the browser)")


class ModulePreferences(BaseModel):
    source: str = Field(examples=["tenders"], description='a module, or "*" for all modules')
    critical_types: list[str] = Field(
        default_factory=list, description="always delivered, whatever the setting"
    )
    digestible: bool = Field(description="some of the module's types may wait for a digest")
    channels: dict[str, ChannelSetting]


class PreferencesView(BaseModel):
    channels: list[str] = Field(examples=[list(CHANNELS)])
    modules: list[ModulePreferences]


class PreferenceChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(pattern=SOURCE_PATTERN, examples=["tenders"])
    channel: str = Field(examples=["email"])
    mode: Mode | None = Field(description="null resets to the module's default")


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "changes": [
                        {"source": "tenders", "channel": "email", "mode": "digest"},
                        {"source": "*", "channel": "telegram", "mode": "off"},
                        {"source": "design", "channel": "browser", "mode": None},
                    ]
                }
            ]
        },
    )

    changes: list[PreferenceChange] = Field(min_length=1, max_length=200)


# ---- subscriptions ------------------------------------------------------------------------

# inlined: a "#/$defs/..." reference would point into the OpenAPI document's root, not here
_CONDITIONS_SCHEMA = self_contained(TypeAdapter(list[Condition]).json_schema())
# Kept as raw JSON so libs/common/subscriptions/filters.parse_filter produces the error (it names
# the index).
RawFilter = Annotated[list[dict[str, Any]], WithJsonSchema(_CONDITIONS_SCHEMA)]

FILTER_EXAMPLE: list[dict[str, Any]] = [
    {"field": "deadline", "op": "within_days", "value": 7},
    {"field": "responsible", "op": "roles_any", "value": ["designer"]},
    {"field": "location.section", "op": "eq", "value": "basement"},
    {"in": "event", "field": "priority", "op": "ne", "value": "low"},
]


MAX_TYPES = 50  # event types one subscription names
EventTypeName = Annotated[str, Field(pattern=IDENT_PATTERN)]


class SubscriptionScope(StorableModel):
    source: str = Field(pattern=IDENT_PATTERN, examples=["tenders"])
    entity_type: str = Field(min_length=1, max_length=64, examples=["remark"])
    project_id: str | None = Field(default=None, max_length=128, examples=["P-42"])
    types: list[EventTypeName] = Field(
        default_factory=list,
        max_length=MAX_TYPES,
        description="only events of these types; empty: every type of the entity type",
        examples=[["remark.created", "remark.reassigned"]],
    )
    filter: RawFilter = Field(default_factory=list, examples=[FILTER_EXAMPLE])


class SubscriptionIn(SubscriptionScope):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256, examples=["Basement remarks due soon"])
    channels: list[str] = Field(
        default_factory=lambda: ["browser"],
        max_length=MAX_SUBSCRIPTION_CHANNELS,
        description="channels this subscription delivers on (the inbox always gets it)",
        examples=[["email", "browser"]],
    )
    enabled: bool = True
    remind: Remind | None = Field(
        default=None,
        description="a reminder `days_before` days before this date of every matching entity "
        "(docs/filters.md#deadline-reminders)",
        examples=[{"field": "deadline", "days_before": 7}],
    )


class SubscriptionOut(SubscriptionIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    updated_at: datetime


class PreviewRequest(SubscriptionScope):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=7, ge=1, le=30, description="look back this many days")
    limit: int = Field(default=200, ge=1, le=1000, description="newest events scanned at most")


class PreviewMatch(BaseModel):
    event_id: str
    type: str
    entity_id: str
    project_id: str | None
    occurred_at: datetime | None


class PreviewResult(BaseModel):
    scanned: int = Field(
        description="recent events of this source and entity type, about objects the user may "
        "read, looked at"
    )
    matched: int
    events: list[PreviewMatch] = Field(description="newest first, at most 50")
