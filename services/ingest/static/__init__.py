"""Static pages the ingest app serves: the live inbox page (/inbox/), an example to copy."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles

INBOX_DIR = Path(__file__).parent / "inbox"
INBOX_PATH = "/inbox"


def mount_inbox_page(app: Starlette) -> None:
    """Plain HTML + JS, no build step; talks to /v1/inbox and the websocket gateway."""
    app.mount(INBOX_PATH, StaticFiles(directory=INBOX_DIR, html=True), name="inbox-page")
