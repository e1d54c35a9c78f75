"""Password hashing and admin accounts."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from herald.admin_users import run_admin_user
from libs.common.db.engine import transaction
from libs.common.db.models import AdminUser
from services.ingest.admin.passwords import DUMMY_HASH, hash_password, verify_password
from services.ingest.admin.users import AccountError, check_account, set_admin_user


def test_hashes_verify_salted_and_reject_malformed() -> None:
    first, second = hash_password("pw"), hash_password("pw")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert verify_password("pw", first) and verify_password("pw", second)
    assert not verify_password("pW", first)
    assert not verify_password("pw", "scrypt$1$8$1$AA==$AA==")  # n out of range
    assert not verify_password("pw", "pbkdf2$whatever") and not verify_password("", DUMMY_HASH)


async def test_admin_user_accounts_are_created_and_rotated(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(AccountError, match="at least"):
        check_account("ops", "short")
    async with transaction(sessions) as s:
        assert await set_admin_user(s, "ops", "first-password") is True
    async with transaction(sessions) as s:
        assert await set_admin_user(s, "ops", "second-password") is False
    async with sessions() as s:
        user = await s.get(AdminUser, "ops")
    assert user is not None and verify_password("second-password", user.password_hash)
    ok, printed = run_admin_user("ops", "third-password", print_hash=True)
    assert ok and verify_password("third-password", json.loads(printed)["ops"])
