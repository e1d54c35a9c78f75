"""Sending a notification on a channel (DESIGN §6), and every attempt at it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TypedDict

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.models.base import TZ, Base, BigId, utcnow


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    DENIED = "DENIED"
    SKIPPED = "SKIPPED"
    DIGEST = "DIGEST"
    DIGESTED = "DIGESTED"


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # one live delivery per notification and channel; SKIPPED rows are kept for the record
        Index(
            "uq_deliveries_live",
            "notification_id",
            "channel",
            unique=True,
            postgresql_where=text("status <> 'SKIPPED'"),
            sqlite_where=text("status <> 'SKIPPED'"),
        ),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_user", "tenant", "user_id", "channel", "status"),
        Index("ix_deliveries_digest", "digest_id"),
        Index("ix_deliveries_retention", "tenant", "created_at"),  # a tenant's oldest first
        # every delivery of a notification (uq_deliveries_live leaves SKIPPED ones out): what
        # deleting a notification cascades to, and the admin's trail
        Index("ix_deliveries_notification", "notification_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # NULL for a digest's own delivery (digests.delivery_id points at it)
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE")
    )
    tenant: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(256), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(TZ)
    locked_until: Mapped[datetime | None] = mapped_column(TZ)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(256))
    digest_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(TZ)


class DeliveryAttempt(Base):
    """Every attempt and its outcome: the trail the admin shows ("I never got it")."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))  # sent / retry / failed / denied
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class DeliveryRow(TypedDict):
    """One ``deliveries`` row as Core inserts it (executemany): a notification on one channel
    (the processor, escalation steps) or a digest's own delivery (``notification_id`` None)."""

    notification_id: int | None
    tenant: str
    user_id: str
    source: str
    channel: str
    status: str
    reason: str
    subject: str
    body: str
    body_html: str | None
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
