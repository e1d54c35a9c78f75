"""The Core ``Table`` behind an ORM class, typed as one.

Core statements (executemany updates, ``insert().values`` of many rows) need the ``Table``;
SQLAlchemy types ``Model.__table__`` as the wider ``FromClause``, which each call site used to
narrow with a ``type: ignore`` or a ``cast``. Here it is narrowed once, and checked.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase


def table_of(model: type[DeclarativeBase]) -> Table:
    table = model.__table__
    if not isinstance(table, Table):  # a mapped class over a join or a select: not ours
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table
