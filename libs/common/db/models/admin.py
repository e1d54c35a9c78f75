"""The admin UI's accounts, open sessions and login throttle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.models.base import TZ, Base, Json, utcnow


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
