"""Which database failures are an outage (wait and retry) and which are a bug (give up)."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

# SQLSTATE classes worth waiting out: 08 connection exception, 53 insufficient resources
# (too many connections, disk full), 57 operator intervention (shutdown, starting up),
# 40 transaction rollback (serialization failure, deadlock).
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "40"})
_MAX_CHAIN = 8  # __cause__/__context__ links to follow; deeper chains are not ours


def is_transient(exc: BaseException) -> bool:
    """True when the database is unreachable or refused for now, not because of the data."""
    seen: BaseException | None = exc
    for _ in range(_MAX_CHAIN):
        if seen is None:
            return False
        if _transient_one(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _transient_one(exc: BaseException) -> bool:
    if isinstance(exc, OSError | TimeoutError | sa_exc.TimeoutError):
        return True  # refused, reset, unreachable; pool or statement timeout
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return True  # asyncpg "connection is closed", SQLite "database is locked"
    sqlstate = getattr(exc, "sqlstate", None) or getattr(
        getattr(exc, "orig", None), "sqlstate", None
    )
    return isinstance(sqlstate, str) and sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES
