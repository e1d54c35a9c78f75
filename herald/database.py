"""One transaction on a database from a command (``herald migrate``, ``herald tenant``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def in_transaction(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``work`` in one transaction (committed when it returns), on an engine of its own."""
    from libs.common.db.engine import make_engine, make_sessionmaker, transaction

    engine = make_engine(url)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()
