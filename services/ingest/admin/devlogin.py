"""`herald dev`'s ready-made admin login: generated once per data folder, kept there."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from services.ingest.admin.passwords import hash_password

DEV_ADMIN_USER = "admin"


def _kept(path: Path, make: int) -> str:
    if not path.exists():
        path.write_text(secrets.token_urlsafe(make))
        path.chmod(0o600)
    return path.read_text().strip()


def dev_admin_password(data_dir: Path) -> str:
    return _kept(data_dir / "admin-password", 12)


def dev_admin_environment(data_dir: Path) -> dict[str, str]:
    """HERALD_ADMIN_* for `herald dev` (anything already in the environment wins)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "HERALD_ADMIN_SESSION_SECRET": _kept(data_dir / "admin-session-secret", 48),
        "HERALD_ADMIN_USERS": json.dumps(
            {DEV_ADMIN_USER: hash_password(dev_admin_password(data_dir))}
        ),
    }
