"""What a person follows and how: subscriptions, their deadline reminders, channel preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.models.base import TZ, Base, BigId, Json, utcnow


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_match", "tenant", "source", "entity_type", "project_id"),
        Index("ix_subscriptions_user", "tenant", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(128))
    entity_type: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(String(128))
    filter: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    # event types it follows; empty: every type of its entity type
    types: Mapped[list[str]] = mapped_column(Json, default=list)
    # {"in"?, "field", "days_before"}: a reminder before that date
    # (libs/common/subscriptions/reminders.py)
    remind: Mapped[dict[str, Any] | None] = mapped_column(Json)
    channels: Mapped[list[str]] = mapped_column(Json, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow, onupdate=utcnow)


class Reminder(Base):
    """One reminder per (subscription, entity) (DESIGN §5.2): scheduled while the entity
    matches, moved when its date changes, cancelled when it stops matching, sent once
    (services/processor/reminders.py, reminder_firing.py)."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("subscription_id", "entity_id", name="uq_reminders_subscription_entity"),
        Index("ix_reminders_due", "status", "fire_at"),  # the firer's claim
        Index("ix_reminders_entity", "tenant", "source", "entity_type", "entity_id"),
        Index("ix_reminders_retention", "tenant", "updated_at"),  # oldest ended first
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    subscription_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(128))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(128))
    project_id: Mapped[str | None] = mapped_column(String(128))
    due: Mapped[str] = mapped_column(String(64))  # the date as read (ISO): a change moves it
    fire_at: Mapped[datetime] = mapped_column(TZ)
    status: Mapped[str] = mapped_column(String(16))  # scheduled / sent / cancelled
    reason: Mapped[str] = mapped_column(String(256), default="")
    event_id: Mapped[str] = mapped_column(String(36))  # the event that set it: the context
    event_time: Mapped[datetime] = mapped_column(TZ)  # its occurred_at: older events lose
    notification_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class ChannelPreference(Base):
    __tablename__ = "channel_preferences"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), primary_key=True)  # a module or "*"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))  # instant / digest / off
