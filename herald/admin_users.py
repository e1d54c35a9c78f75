"""``herald admin-user``: the admin UI's accounts from the command line."""

from __future__ import annotations

import asyncio
import json

from pydantic import ValidationError

from herald.settings_errors import explain


def run_admin_user(username: str, password: str, print_hash: bool) -> tuple[bool, str]:
    """(ok, message) — the hash to put in HERALD_ADMIN_USERS, or what was stored."""
    from services.ingest.admin.passwords import hash_password
    from services.ingest.admin.users import AccountError, check_account

    try:
        check_account(username, password)
    except AccountError as exc:
        return False, str(exc)
    if print_hash:
        return True, json.dumps({username: hash_password(password)})
    from libs.common.settings import DatabaseSettings

    try:
        url = DatabaseSettings().database_url
    except ValidationError as exc:
        return False, explain("admin-user", exc)
    created = asyncio.run(_store(url, username, password))
    return True, f"admin {username!r} {'created' if created else 'password changed'}"


async def _store(url: str, username: str, password: str) -> bool:
    from libs.common.db.engine import make_engine, make_sessionmaker, transaction
    from services.ingest.admin.users import set_admin_user

    engine = make_engine(url)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            return await set_admin_user(session, username, password)
    finally:
        await engine.dispose()
