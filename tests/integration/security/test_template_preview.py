"""The same escapes and exhaustion attempts through the admin's live preview and its save path:
every one answers with the refusal, none is a 500, none leaks internals, none is saved. A
template that misses its render deadline on the sample event is refused the same way, and
rendering it never stalls the event loop (it runs in a worker thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Template
from libs.common.templating.template_budget import DEFAULT_DEADLINE_S, set_render_deadline
from tests.integration.services.ingest.admin.admin_support import SAME_ORIGIN, admin_client
from tests.unit.security.test_template_sandbox import ESCAPES, EXHAUSTION, UNBOUNDED

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


SLOW = UNBOUNDED["work in every step"]  # ~3 s of CPU without a deadline
DEADLINE_S = 0.5
MAX_LOOP_LAG_S = 0.2  # the render holds the GIL at most between two bytecode switches


@pytest.fixture(autouse=True)
def _default_deadline_after() -> Iterator[None]:
    """create_app sets the process's render deadline from its settings: put it back."""
    yield
    set_render_deadline(DEFAULT_DEADLINE_S)


async def _max_loop_lag(work: asyncio.Task[object]) -> float:
    """The longest the event loop went without running a 10 ms ticker while ``work`` ran."""
    loop, worst = asyncio.get_running_loop(), 0.0
    while not work.done():
        before = loop.time()
        await asyncio.sleep(0.01)
        worst = max(worst, loop.time() - before - 0.01)
    return worst


async def test_a_slow_preview_is_refused_and_never_blocks_the_event_loop(
    database_url: str,
) -> None:
    async with admin_client(database_url, MEMORY, template_render_deadline_s=DEADLINE_S) as c:
        form = {"event_type": "*", "locale": "ru", "subject": "s", "body": SLOW}
        post = c.post("/admin/template/preview", data=form, headers=SAME_ORIGIN)
        request = asyncio.create_task(post)
        lag = await _max_loop_lag(request)
        resp = await request
    assert resp.status_code == 200 and resp.json()["ok"] is False
    assert "deadline" in resp.json()["error"] and f"{DEADLINE_S:g} s" in resp.json()["error"]
    assert lag < MAX_LOOP_LAG_S, lag


async def test_a_template_missing_its_deadline_on_the_sample_is_not_saved(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with admin_client(database_url, MEMORY, template_render_deadline_s=DEADLINE_S) as c:
        form = {"event_type": "*", "channel": "email", "locale": "xx", "subject": "s",
                "body": SLOW, "body_html": ""}  # fmt: skip
        resp = await c.post("/admin/template/create", data=form, headers=SAME_ORIGIN)
    assert resp.status_code == 400 and "Not saved" in resp.text and "deadline" in resp.text
    async with sessions() as s:
        assert await s.scalar(select(func.count()).where(Template.locale == "xx")) == 0


async def test_preview_refuses_every_unbounded_template(database_url: str) -> None:
    async with admin_client(database_url, MEMORY, template_render_deadline_s=0.3) as client:
        for name, source in UNBOUNDED.items():
            form = {"event_type": "*", "locale": "ru", "subject": "", "body": source}
            resp = await client.post("/admin/template/preview", data=form, headers=SAME_ORIGIN)
            assert resp.status_code == 200 and resp.json()["ok"] is False, (name, resp.text)
