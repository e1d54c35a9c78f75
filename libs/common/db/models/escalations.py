"""Escalation steps: one row per (notification, step) of a critical notification's chain
(DESIGN §6, services/processor/escalation_plan.py and escalation_firing.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.models.base import TZ, Base, BigId, utcnow


class Escalation(Base):
    """``planned`` until its moment; then ``sent`` (a delivery was created: ``delivery_id``),
    ``skipped`` (no address, no provider, already delivered there: ``reason``) or
    ``stopped`` (the notification was read or archived first)."""

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("notification_id", "step", name="uq_escalations_notification_step"),
        Index("ix_escalations_due", "status", "fire_at"),  # the firer's claim
        Index("ix_escalations_retention", "tenant", "updated_at"),  # oldest ended first
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128))
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)  # 1, 2, … in chain order
    channel: Mapped[str] = mapped_column(String(32))
    after_minutes: Mapped[int] = mapped_column(Integer)
    fire_at: Mapped[datetime] = mapped_column(TZ)
    status: Mapped[str] = mapped_column(String(16))  # planned / sent / skipped / stopped
    reason: Mapped[str] = mapped_column(String(256), default="")
    delivery_id: Mapped[int | None] = mapped_column(BigInteger)  # no FK: retention may drop it
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
