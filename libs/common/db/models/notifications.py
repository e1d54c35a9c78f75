"""The inbox: one notification per (event, user) and the per-user sequence the websocket
resumes by (DESIGN §8)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.models.base import TZ, Base, BigId, utcnow

UNREAD_VISIBLE = "read_at IS NULL AND archived_at IS NULL AND access = 'allowed'"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id", name="uq_notifications_event_user"),
        Index("ix_notifications_inbox", "tenant", "user_id", "id"),
        # unread newest-first pages and the unread counters (source INCLUDEd: index-only),
        # over visible items only (libs/common/inbox/access.py)
        Index(
            "ix_notifications_unread",
            "tenant",
            "user_id",
            "id",
            postgresql_include=["source"],
            postgresql_where=text(UNREAD_VISIBLE),
            sqlite_where=text(UNREAD_VISIBLE),
        ),
        # the visibility checker's backlog: notifications not checked yet
        Index(
            "ix_notifications_unchecked",
            "id",
            postgresql_where=text("access IS NULL"),
            sqlite_where=text("access IS NULL"),
        ),
        Index("ix_notifications_source", "tenant", "user_id", "source", "id"),  # ?source=
        # the websocket resume cursor: per user, committed in order (DESIGN §8)
        Index("ix_notifications_user_seq", "tenant", "user_id", "user_seq", unique=True),
        Index("ix_notifications_retention", "tenant", "created_at"),  # a tenant's oldest first
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(256))  # "direct:assignee", "subscription:12"
    source: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(128))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(128))
    project_id: Mapped[str | None] = mapped_column(String(128))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(TZ)
    archived_at: Mapped[datetime | None] = mapped_column(TZ)
    # first permission check: None = not checked yet (hidden), "allowed", "denied"
    access: Mapped[str | None] = mapped_column(String(16))
    # per-user sequence, assigned under the user's user_sequences row lock (DESIGN §8)
    user_seq: Mapped[int | None] = mapped_column(BigInteger)


class UserSequence(Base):
    """The last per-user notification sequence value handed out (locked while assigning)."""

    __tablename__ = "user_sequences"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
