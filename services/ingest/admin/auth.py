"""Admin login: accounts from HERALD_ADMIN_USERS or the admin_users table, scrypt hashes,
a signed SameSite=strict session cookie (itsdangerous via Starlette's SessionMiddleware)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqladmin.authentication import AuthenticationBackend
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from libs.common.db.models import AdminUser
from services.ingest.admin.passwords import DUMMY_HASH, verify_password
from services.ingest.admin.scope import set_scope
from services.ingest.admin.session_store import SessionRegistry
from services.ingest.admin.settings import AdminSettings
from services.ingest.admin.throttle import LoginThrottle

log = logging.getLogger("herald.admin")

SESSION_COOKIE = "herald_admin"
MAX_USERNAME_CHARS = 128
MAX_PASSWORD_CHARS = 1024  # scrypt hashes anything, but a 10 MB "password" is an attack


def hash_fingerprint(stored: str) -> str:
    """Kept in the session: changing the password (or deleting the account) ends sessions."""
    return hashlib.sha256(stored.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Account:
    password_hash: str
    tenants: list[str] | None  # None: a global admin (services/ingest/admin/scope.py)


class AdminAccounts:
    """Where a username's hash and tenants come from: settings first, then the database."""

    def __init__(
        self, settings: AdminSettings, sessions: Callable[[], async_sessionmaker[AsyncSession]]
    ) -> None:
        self._static = settings.admin_users
        self.sessions = sessions  # the session registry reads the same database

    async def account(self, username: str) -> Account | None:
        static = self._static.get(username)
        if isinstance(static, str):
            return Account(static, None)
        if static is not None:
            return Account(static.hash, list(static.tenants))
        async with self.sessions()() as session:
            user = await session.scalar(select(AdminUser).where(AdminUser.username == username))
            return Account(user.password_hash, user.tenants) if user else None

    async def stored_hash(self, username: str) -> str | None:
        found = await self.account(username)
        return found.password_hash if found else None

    async def check(self, username: str, password: str) -> str | None:
        """The stored hash when the password matches; None otherwise (same cost either way)."""
        if not username or len(username) > MAX_USERNAME_CHARS:
            return None
        if len(password) > MAX_PASSWORD_CHARS:
            return None
        stored = await self.stored_hash(username)
        ok = await asyncio.to_thread(verify_password, password, stored or DUMMY_HASH)
        return stored if ok and stored else None


class AdminAuth(AuthenticationBackend):
    def __init__(self, settings: AdminSettings, accounts: AdminAccounts, path: str) -> None:
        assert settings.admin_session_secret is not None
        super().__init__(
            secret_key=settings.admin_session_secret,
            session_cookie=SESSION_COOKIE,
            max_age=settings.admin_session_max_age_s,
            path=path,
            same_site="strict",
            https_only=settings.admin_cookie_secure,
        )
        self._accounts = accounts
        self._registry = SessionRegistry(accounts.sessions, settings.admin_session_max_age_s)
        self._throttle = LoginThrottle(accounts.sessions)

    async def login(self, request: Request) -> Response | bool:
        form = await request.form()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        wait_s = await self._throttle.admit(username, _client(request))
        if wait_s:
            log.warning("admin login throttled for %r from %s", username[:64], _client(request))
            return _too_many(wait_s)
        stored = await self._accounts.check(username, password)
        request.session.clear()
        if stored is None:
            log.warning("admin login refused for %r from %s", username[:64], _client(request))
            return False
        await self._throttle.succeeded(username, _client(request))
        sid = await self._registry.open(username)  # logout must be able to end it
        request.session.update(
            {"admin": username, "fp": hash_fingerprint(stored), "at": int(time.time()), "sid": sid}
        )
        log.info("admin %r logged in from %s", username, _client(request))
        return True

    async def logout(self, request: Request) -> bool:
        await self._registry.close(request.session.get("sid"))
        request.session.clear()
        return False  # sqladmin then sends the browser to the login page

    async def authenticate(self, request: Request) -> bool:
        username = request.session.get("admin")
        if not isinstance(username, str):
            return False
        account = await self._accounts.account(username)
        if account is None or hash_fingerprint(account.password_hash) != request.session.get("fp"):
            request.session.clear()
            return False
        set_scope(request, account.tenants)  # read every request: a change applies at once
        if not await self._registry.is_open(request.session.get("sid"), username):
            request.session.clear()  # logged out (or expired) on the server side
            return False
        return True

    async def get_user_id(self, request: Request) -> str | None:
        value = request.session.get("admin")
        return value if isinstance(value, str) else None


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _too_many(wait_s: int) -> Response:
    return PlainTextResponse(
        f"too many login attempts: try again in {wait_s} s",
        status_code=429,
        headers={"Retry-After": str(wait_s)},
    )
