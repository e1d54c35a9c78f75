"""The data model of DESIGN §4. One Alembic history covers it (migrations/)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT identity on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")
TZ = DateTime(timezone=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class EventStatus(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"
    REJECTED = "rejected"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    DENIED = "DENIED"
    SKIPPED = "SKIPPED"
    DIGEST = "DIGEST"
    DIGESTED = "DIGESTED"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("tenant", "source", "source_event_id", name="uq_events_idempotency"),
        Index("ix_events_status_received", "status", "received_at"),
        Index("ix_events_entity", "tenant", "entity_type", "entity_id"),
        # the subscription preview: recent events of one source and entity type
        Index("ix_events_recent", "tenant", "source", "entity_type", "received_at"),
        Index("ix_events_retention", "tenant", "received_at"),  # a tenant's oldest first
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


class RecipientProject(Base):
    """What a person is in one project: the roles they hold there and the company they work
    for there (DESIGN §5.2, libs/common/memberships.py). Keyed for a person's lookup; the
    second index finds a project's members (an event's audience)."""

    __tablename__ = "recipient_projects"
    __table_args__ = (Index("ix_recipient_projects_project", "tenant", "project_id"),)

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    roles: Mapped[list[str]] = mapped_column(Json, default=list)
    company_id: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


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


UNREAD_VISIBLE = "read_at IS NULL AND archived_at IS NULL AND access = 'allowed'"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id", name="uq_notifications_event_user"),
        Index("ix_notifications_inbox", "tenant", "user_id", "id"),
        # unread newest-first pages and the unread counters (source INCLUDEd: index-only),
        # over visible items only (libs/common/access.py)
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
    # {"in"?, "field", "days_before"}: a reminder before that date (libs/common/reminders.py)
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


class TelegramLink(Base):
    """One-time deep-link tokens: /start <token> binds a chat to a user."""

    __tablename__ = "telegram_links"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(TZ)
    used_at: Mapped[datetime | None] = mapped_column(TZ)


class Tenant(Base):
    """A customer environment (DESIGN §15). Events and user tokens of a tenant that is not
    here, or disabled, are refused (libs/common/tenants.py); ``settings`` holds what the
    tenant may decide for itself (libs/common/tenant_settings.py)."""

    __tablename__ = "tenants"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow, onupdate=utcnow)


class AdminUser(Base):
    __tablename__ = "admin_users"

    username: Mapped[str] = mapped_column(String(128), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    # None: a global admin; else the tenants this admin sees and edits (DESIGN §15)
    tenants: Mapped[list[str] | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class AdminLoginThrottle(Base):
    """Admin login attempts per account and per client address, shared by every ingest
    process (services/ingest/admin/throttle.py). Times are epoch seconds: the same on
    PostgreSQL and SQLite, and compared in Python."""

    __tablename__ = "admin_login_throttle"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)  # account:… or address:…
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[float] = mapped_column(Float)
    last_at: Mapped[float] = mapped_column(Float, index=True)  # housekeeping drops quiet rows


class AdminSession(Base):
    """An open admin login; logout deletes it (services/ingest/admin/session_store.py)."""

    __tablename__ = "admin_sessions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's id
    username: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(TZ)
