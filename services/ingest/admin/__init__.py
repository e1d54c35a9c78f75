"""The admin UI (sqladmin) mounted on the ingest app at /admin (DESIGN §1, issue 10).

This package's own import stays light: ingest reads the admin's settings whether or not the
admin is on, and sqladmin, WTForms and the views load (``mount.py``) only when it is.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from services.ingest.admin.settings import AdminSettings

if TYPE_CHECKING:
    from sqladmin import Admin
    from starlette.applications import Starlette

log = logging.getLogger("herald.admin")


def mount_admin(app: Starlette, settings: AdminSettings) -> Admin | None:
    """Mount /admin; off (with a log line) while HERALD_ADMIN_SESSION_SECRET is unset."""
    if not settings.admin_session_secret:
        log.info("admin UI off: set HERALD_ADMIN_SESSION_SECRET to enable /admin")
        return None
    from services.ingest.admin.mount import mount

    return mount(app, settings)
