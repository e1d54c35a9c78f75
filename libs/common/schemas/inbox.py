"""The inbox item and unread counters: one shape for the REST API, the browser channel
(``herald.browser``) and the websocket gateway's pushes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class InboxItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="monotonic per deployment; cursors and resume use it")
    event_id: str
    source: str
    type: str
    entity_type: str
    entity_id: str
    project_id: str | None = None
    priority: str = "normal"
    reason: str = Field(description='why this user got it: "direct:assignee", "subscription:12"')
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None = None
    archived_at: datetime | None = None


class UnreadCounts(BaseModel):
    total: int = Field(ge=0)
    by_source: dict[str, int] = Field(default_factory=dict)


class BrowserPush(BaseModel):
    """What the sender publishes to ``herald.browser`` for one user (fanout to gateways)."""

    kind: Literal["notification", "counts"]
    tenant: str
    user_id: str
    notification: InboxItem | None = None
    counts: UnreadCounts | None = None
