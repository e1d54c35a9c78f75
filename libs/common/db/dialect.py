"""The one place a feature asks which database it is on (PostgreSQL in production, SQLite
embedded, DESIGN §4).

Features that write the same statement on both go through :func:`upsert`; features whose
PostgreSQL path is a different statement (set-based, arrays, advisory locks) keep both behind
one small repository interface and pick the implementation with :func:`for_dialect`, so the
feature's own code reads as one path.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.engine import dialect_name

T = TypeVar("T")
Upsert = pg.Insert | sqlite.Insert  # both spell ON CONFLICT the same way


def on_postgresql(session: AsyncSession) -> bool:
    return dialect_name(session) == "postgresql"


def for_dialect(session: AsyncSession, *, postgresql: T, portable: T) -> T:
    """``postgresql`` on PostgreSQL, else ``portable`` (the SQLAlchemy statements SQLite runs)."""
    return postgresql if on_postgresql(session) else portable


def upsert(session: AsyncSession, table: type[Any] | Table) -> Upsert:
    """``INSERT … ON CONFLICT`` into ``table`` (a model or a Core table) for this session's
    database: ``.on_conflict_do_update`` / ``.on_conflict_do_nothing`` and ``.excluded``
    behave alike on both."""
    insert = pg.insert if on_postgresql(session) else sqlite.insert
    return insert(table)
