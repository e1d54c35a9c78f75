"""Tenants and the configuration they may override: event types, templates, e-mail layouts
(a global row with tenant NULL, a tenant's row wins; DESIGN §15)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.models.base import TZ, Base, BigId, Json, utcnow

GLOBAL_ROW = "tenant IS NULL"  # configuration for every tenant (DESIGN §15)
TENANT_ROW = "tenant IS NOT NULL"  # one tenant's override: the most specific row wins


def one_row_per_scope(table: str, *key: str) -> tuple[Index, Index]:
    """At most one global row and one row per tenant for ``key`` (partial unique indexes:
    a unique constraint would let any number of NULL-tenant rows in)."""
    return (
        Index(
            f"uq_{table}_global",
            *key,
            unique=True,
            postgresql_where=text(GLOBAL_ROW),
            sqlite_where=text(GLOBAL_ROW),
        ),
        Index(
            f"uq_{table}_tenant",
            "tenant",
            *key,
            unique=True,
            postgresql_where=text(TENANT_ROW),
            sqlite_where=text(TENANT_ROW),
        ),
    )


class Tenant(Base):
    """A customer environment (DESIGN §15). Events and user tokens of a tenant that is not
    here, or disabled, are refused (libs/common/tenancy/tenants.py); ``settings`` holds what the
    tenant may decide for itself (libs/common/tenancy/tenant_settings.py)."""

    __tablename__ = "tenants"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow, onupdate=utcnow)


class EventType(Base):
    __tablename__ = "event_types"
    __table_args__ = one_row_per_scope("event_types", "key")

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str | None] = mapped_column(String(128))  # None: every tenant's
    key: Mapped[str] = mapped_column(String(256))  # "<source>.<type>"
    source: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(256), default="")
    category: Mapped[str] = mapped_column(String(64), default="general")
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    digestible: Mapped[bool] = mapped_column(Boolean, default=True)
    default_channels: Mapped[list[str]] = mapped_column(Json, default=list)
    default_locale: Mapped[str] = mapped_column(String(16), default="ru")
    notify_actor: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # the escalation chain of a critical notification left unread
    # (libs/common/delivery/escalation.py): [{"channel": "email", "after_minutes": 10}, …]; empty:
    # none
    escalation: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)


class Template(Base):
    __tablename__ = "templates"
    __table_args__ = one_row_per_scope("templates", "event_type", "channel", "locale")

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str | None] = mapped_column(String(128))  # None: every tenant's
    # an event type key, "*" for the channel default, "herald.digest" for digests
    event_type: Mapped[str] = mapped_column(String(256))
    channel: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow, onupdate=utcnow)


class EmailLayout(Base):
    """What every e-mail of a tenant is wrapped in (DESIGN §15): header, footer, colours and
    the sender's display name. The global row (tenant None) serves tenants without their own;
    none at all leaves e-mails as their templates render them."""

    __tablename__ = "email_layouts"
    __table_args__ = (
        Index(
            "uq_email_layouts_scope",
            text("coalesce(tenant, '')"),  # one global row, one per tenant
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant: Mapped[str | None] = mapped_column(String(128))
    sender_name: Mapped[str] = mapped_column(String(128), default="")
    header_html: Mapped[str] = mapped_column(Text, default="")
    footer_html: Mapped[str] = mapped_column(Text, default="")
    header_text: Mapped[str] = mapped_column(Text, default="")
    footer_text: Mapped[str] = mapped_column(Text, default="")
    accent_color: Mapped[str] = mapped_column(String(7), default="#1f6feb")
    background_color: Mapped[str] = mapped_column(String(7), default="#ffffff")
    text_color: Mapped[str] = mapped_column(String(7), default="#1f2328")
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow, onupdate=utcnow)
