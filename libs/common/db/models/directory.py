"""People: who they are, what they are in each project, and a chat bound to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.models.base import TZ, Base, Json, utcnow


class Recipient(Base):
    __tablename__ = "recipients"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320))
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(16))  # E.164, for SMS
    locale: Mapped[str] = mapped_column(String(16), default="ru")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    roles: Mapped[list[str]] = mapped_column(Json, default=list)
    company_id: Mapped[str | None] = mapped_column(String(128))
    manager_id: Mapped[str | None] = mapped_column(String(128))
    attributes: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow, onupdate=utcnow)


class RecipientProject(Base):
    """What a person is in one project: the roles they hold there and the company they work
    for there (DESIGN §5.2, libs/common/recipients/memberships.py). Keyed for a person's lookup; the
    second index finds a project's members (an event's audience)."""

    __tablename__ = "recipient_projects"
    __table_args__ = (Index("ix_recipient_projects_project", "tenant", "project_id"),)

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    roles: Mapped[list[str]] = mapped_column(Json, default=list)
    company_id: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class TelegramLink(Base):
    """One-time deep-link tokens: /start <token> binds a chat to a user."""

    __tablename__ = "telegram_links"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(TZ)
    used_at: Mapped[datetime | None] = mapped_column(TZ)
