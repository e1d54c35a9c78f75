"""Events as they arrived (DESIGN §3, §4), processed or rejected."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.models.base import TZ, Base, Json, new_uuid, utcnow


class EventStatus(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"
    REJECTED = "rejected"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("tenant", "source", "source_event_id", name="uq_events_idempotency"),
        Index("ix_events_status_received", "status", "received_at"),
        Index("ix_events_entity", "tenant", "entity_type", "entity_id"),
        # the subscription preview: recent events of one source and entity type
        Index("ix_events_recent", "tenant", "source", "entity_type", "received_at"),
        Index("ix_events_retention", "tenant", "received_at"),  # a tenant's oldest first
        Index(  # a tenant's oldest rejected rows (or those of no tenant), for retention
            "ix_events_rejected",
            "tenant",
            "received_at",
            postgresql_where=text("status = 'rejected'"),
            sqlite_where=text("status = 'rejected'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    tenant: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str | None] = mapped_column(String(128))
    source_event_id: Mapped[str | None] = mapped_column(String(128))
    type: Mapped[str | None] = mapped_column(String(128))
    project_id: Mapped[str | None] = mapped_column(String(128))
    entity_type: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(128))
    priority: Mapped[str | None] = mapped_column(String(16))
    occurred_at: Mapped[datetime | None] = mapped_column(TZ)
    body: Mapped[dict[str, Any] | None] = mapped_column(Json)
    # rejected rows keep the raw bytes and headers exactly as they arrived
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any] | None] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.RECEIVED)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(TZ)
