"""Server-side record of admin sessions (table ``admin_sessions``).

The session cookie is signed, not secret: a copy taken before logout (a shared machine, a
proxy log, malware) stayed valid for the cookie's whole lifetime, because clearing the
browser's cookie does not unsign the copy. Each login now opens a row keyed by the hash of a
random session id kept in the cookie; logout deletes it, and a cookie whose row is gone is
refused. Only the hash is stored, so reading the table does not yield usable sessions.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import AdminSession, utcnow

SESSION_ID_BYTES = 32


def session_key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class SessionRegistry:
    def __init__(
        self, sessions: Callable[[], async_sessionmaker[AsyncSession]], max_age_s: int
    ) -> None:
        self._sessions = sessions
        self._max_age = timedelta(seconds=max_age_s)

    async def open(self, username: str) -> str:
        """A new session for ``username``; returns the id the cookie carries."""
        sid = secrets.token_urlsafe(SESSION_ID_BYTES)
        now = utcnow()
        async with transaction(self._sessions()) as session:
            # housekeeping on the rare path: sessions nobody logged out of expire here
            await session.execute(delete(AdminSession).where(AdminSession.expires_at < now))
            session.add(
                AdminSession(
                    key=session_key(sid),
                    username=username,
                    created_at=now,
                    expires_at=now + self._max_age,
                )
            )
        return sid

    async def is_open(self, sid: object, username: str) -> bool:
        if not isinstance(sid, str) or not sid:
            return False
        async with self._sessions()() as session:
            found = await session.scalar(
                select(AdminSession.key).where(
                    AdminSession.key == session_key(sid),
                    AdminSession.username == username,
                    AdminSession.expires_at > utcnow(),
                )
            )
        return found is not None

    async def close(self, sid: object) -> None:
        if not isinstance(sid, str) or not sid:
            return
        async with transaction(self._sessions()) as session:
            await session.execute(delete(AdminSession).where(AdminSession.key == session_key(sid)))
