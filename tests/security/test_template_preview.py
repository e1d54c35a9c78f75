"""The same escapes and exhaustion attempts through the admin's live preview and its save path:
every one answers with the refusal, none is a 500, none leaks internals, none is saved."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Template
from tests.security.test_template_sandbox import ESCAPES, EXHAUSTION
from tests.services.ingest.admin.admin_support import SAME_ORIGIN, admin_client

MEMORY = "memory://admin-preview-security"
LEAKS = ("<class", "__globals__", "__builtins__", "uid=", "subclasses")


async def test_preview_refuses_every_escape_and_exhaustion(database_url: str) -> None:
    async with admin_client(database_url, MEMORY) as client:
        cases = [("body", source) for source in ESCAPES + EXHAUSTION]
        cases += [(f, s) for f in ("subject", "body_html") for s in ESCAPES[:4] + EXHAUSTION[:4]]
        for field, source in cases:
            form = {"event_type": "*", "locale": "ru", "subject": "", "body": "x", field: source}
            resp = await client.post("/admin/template/preview", data=form, headers=SAME_ORIGIN)
            assert resp.status_code == 200, (field, source, resp.status_code)
            leaked = [leak for leak in LEAKS if leak in resp.text]
            assert not leaked, (field, source, resp.text[:300])
            if source in EXHAUSTION:
                assert resp.json()["ok"] is False, (field, source)


async def test_exhausting_templates_are_never_saved(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as s:
        before = await s.scalar(select(func.count()).select_from(Template))
    async with admin_client(database_url, MEMORY) as client:
        for source in EXHAUSTION[:6] + EXHAUSTION[-4:]:
            form = {
                "event_type": "*",
                "channel": "email",
                "locale": "xx",
                "subject": "s",
                "body": source,
                "body_html": "",
            }
            resp = await client.post("/admin/template/create", data=form, headers=SAME_ORIGIN)
            assert resp.status_code == 400 and "Not saved" in resp.text, (source, resp.status_code)
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Template)) == before
