"""Admin accounts in the database (``herald admin-user``); HERALD_ADMIN_USERS needs none."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import AdminUser
from services.ingest.admin.auth import MAX_USERNAME_CHARS
from services.ingest.admin.passwords import hash_password

MIN_PASSWORD_CHARS = 10


class AccountError(ValueError):
    """A username or password we refuse to store; the message says why."""


def check_account(username: str, password: str) -> None:
    if not username or len(username) > MAX_USERNAME_CHARS or not username.isprintable():
        raise AccountError(f"username: 1-{MAX_USERNAME_CHARS} printable characters")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"password: at least {MIN_PASSWORD_CHARS} characters")


async def set_admin_user(session: AsyncSession, username: str, password: str) -> bool:
    """Create the account or change its password (which ends its open sessions).
    True when it was created."""
    check_account(username, password)
    stored = hash_password(password)
    user = await session.get(AdminUser, username)
    if user is None:
        session.add(AdminUser(username=username, password_hash=stored))
    else:
        user.password_hash = stored
    await session.flush()
    return user is None
