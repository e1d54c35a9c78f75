"""Static files the ingest app serves: the UI components (/ui/herald.js, an ES module with
<herald-inbox> and <herald-preferences>) and the inbox page (/inbox/) that hosts them."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles

INBOX_DIR = Path(__file__).parent / "inbox"
INBOX_PATH = "/inbox"
UI_DIR = Path(__file__).parent / "ui"
UI_PATH = "/ui"


def mount_inbox_page(app: Starlette) -> None:
    """Plain HTML + JS, no build step; talks to the user API and the websocket gateway."""
    app.mount(UI_PATH, StaticFiles(directory=UI_DIR), name="ui-components")
    app.mount(INBOX_PATH, StaticFiles(directory=INBOX_DIR, html=True), name="inbox-page")
