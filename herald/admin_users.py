"""``herald admin-user``: the admin UI's accounts from the command line."""

from __future__ import annotations

import asyncio
import json

from pydantic import ValidationError

from herald.settings_errors import explain


def run_admin_user(
    username: str, password: str, print_hash: bool, tenants: list[str] | None = None
) -> tuple[bool, str]:
    """(ok, message) — the hash to put in HERALD_ADMIN_USERS, or what was stored.
    ``tenants``: the account sees only these (None: a global admin)."""
    from services.ingest.admin.passwords import hash_password
    from services.ingest.admin.users import AccountError, check_account

    try:
        check_account(username, password)
    except AccountError as exc:
        return False, str(exc)
    if print_hash:
        hashed = hash_password(password)
        entry: object = {"hash": hashed, "tenants": tenants} if tenants else hashed
        return True, json.dumps({username: entry})
    from libs.common.runtime.settings import DatabaseSettings

    try:
        url = DatabaseSettings().database_url
    except ValidationError as exc:
        return False, explain("admin-user", exc)
    try:
        created = asyncio.run(_store(url, username, password, tenants))
    except AccountError as exc:
        return False, str(exc)
    scope = f"tenants {', '.join(tenants)}" if tenants else "every tenant"
    return True, f"admin {username!r} {'created' if created else 'changed'} ({scope})"


async def _store(url: str, username: str, password: str, tenants: list[str] | None) -> bool:
    from herald.database import in_transaction
    from services.ingest.admin.users import set_admin_user

    return await in_transaction(url, lambda s: set_admin_user(s, username, password, tenants))
