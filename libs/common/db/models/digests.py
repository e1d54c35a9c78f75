"""Digests (DESIGN §7): each person's schedule per channel and the digests built from it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.models.base import TZ, Base, BigId, Json, utcnow


class DigestSchedule(Base):
    __tablename__ = "digest_schedules"
    __table_args__ = (Index("ix_digest_schedules_due", "next_run_at"),)

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    days_of_week: Mapped[list[int]] = mapped_column(Json, default=list)  # 0 = Monday
    time_of_day: Mapped[str] = mapped_column(String(5), default="09:00")  # HH:MM local
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    window_start: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    next_run_at: Mapped[datetime | None] = mapped_column(TZ)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow, onupdate=utcnow)


class Digest(Base):
    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("tenant", "user_id", "channel", "window_end", name="uq_digests_window"),
        Index("ix_digests_retention", "tenant", "created_at"),  # a tenant's oldest first
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[datetime] = mapped_column(TZ)
    window_end: Mapped[datetime] = mapped_column(TZ)
    status: Mapped[str] = mapped_column(String(16), default="built")
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    delivery_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
