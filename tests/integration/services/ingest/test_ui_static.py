"""The UI components are served by ingest as ES modules (a module script needs a JavaScript
MIME type), every module the entry imports is there, and the inbox page that hosts them has
no inline script or style under its own strict Content-Security-Policy."""

from __future__ import annotations

import re

from services.ingest.app import create_app
from tests.apps import ingest_settings, running

IMPORT = re.compile(r'from "\./([a-z_]+\.js)"')


async def test_ui_modules_are_served_as_javascript(database_url: str, amqp_url: str) -> None:
    app = create_app(ingest_settings(database_url, amqp_url), consume=False)
    async with running(app) as client:
        pending, seen = ["herald.js"], set()
        while pending:
            name = pending.pop()
            seen.add(name)
            response = await client.get(f"/ui/{name}")
            assert response.status_code == 200, name
            assert "javascript" in response.headers["content-type"], name
            pending.extend(set(IMPORT.findall(response.text)) - seen)
        assert {"inbox.js", "preferences.js", "live.js", "subscriptions.js"} <= seen

        page = (await client.get("/inbox/")).text
        assert 'http-equiv="Content-Security-Policy"' in page and "script-src 'self'" in page
        assert '<script type="module" src="/ui/herald.js"></script>' in page
        assert re.search(r"<script(?![^>]*\bsrc=)", page) is None  # no inline script
        assert "<style" not in page and "style=" not in page
