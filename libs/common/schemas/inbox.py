"""The inbox item and unread counters: one shape for the REST API, the browser channel
(``herald.browser``) and the websocket gateway's pushes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


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

    @field_validator("created_at", "read_at", "archived_at")
    @classmethod
    def _with_zone(cls, value: datetime | None) -> datetime | None:
        """Times are stored in UTC; SQLite hands them back naive: say so on the wire."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class UnreadCounts(BaseModel):
    total: int = Field(ge=0)
    by_source: dict[str, int] = Field(default_factory=dict)


class BrowserPush(BaseModel):
    """What is published to ``herald.browser`` for one user (fanout to every gateway).

    * ``notification``: an item that became visible, with its cursor value ``seq``
      (libs/common/inbox/inbox_cursor.py; published after the commit that numbered it), and the
      user's counters read in the same transaction.
    * ``counts``: the user's unread state changed (created, read, unread, archived): publish
      after the commit, with :func:`libs.common.inbox.unread.unread_counts` read after the change.
    """

    kind: Literal["notification", "counts"]
    tenant: str
    user_id: str
    notification: InboxItem | None = None
    seq: int | None = Field(default=None, ge=1, description="the item's per-user cursor value")
    counts: UnreadCounts | None = None
