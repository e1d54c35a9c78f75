"""Admin accounts in the database (``herald admin-user``); HERALD_ADMIN_USERS needs none."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import AdminUser, Tenant
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


async def set_admin_user(
    session: AsyncSession, username: str, password: str, tenants: list[str] | None = None
) -> bool:
    """Create the account or change its password (which ends its open sessions) and its
    tenants (None: a global admin; else registered tenants only). True when it was created."""
    check_account(username, password)
    if tenants is not None:
        await _check_tenants(session, tenants)
    stored = hash_password(password)
    user = await session.get(AdminUser, username)
    if user is None:
        session.add(AdminUser(username=username, password_hash=stored, tenants=tenants))
    else:
        user.password_hash, user.tenants = stored, tenants
    await session.flush()
    return user is None


async def _check_tenants(session: AsyncSession, tenants: list[str]) -> None:
    if not tenants:
        raise AccountError("tenants: name at least one, or none for a global admin")
    known = set(await session.scalars(select(Tenant.key).where(Tenant.key.in_(tenants))))
    unknown = sorted(set(tenants) - known)
    if unknown:
        raise AccountError(f"tenants: not registered: {unknown} (herald tenant add)")
