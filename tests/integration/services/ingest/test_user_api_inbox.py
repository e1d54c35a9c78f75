"""GET /v1/inbox, counts and the state changes, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus.base import Message, QueueSpec
from libs.common.bus.topology import BROWSER_EXCHANGE
from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade_async
from libs.common.db.models import Notification
from tests.apps import eventually
from tests.integration.services.ingest.user_api_data import (
    add_notifications,
    auth,
    user_api,
    user_api_app,
)

ALICE = auth("alice")


async def test_pages_newest_first_with_an_opaque_cursor(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await add_notifications(sessions, "alice", 7)
    async with user_api(database_url) as http:
        seen: list[int] = []
        params: dict[str, str | int] = {"limit": 3}
        while True:
            page = (await http.get("/v1/inbox", params=params, headers=ALICE)).json()
            seen += [item["id"] for item in page["items"]]
            if page["next_cursor"] is None:
                break
            assert not page["next_cursor"].isdigit()  # opaque, not a raw id
            params["cursor"] = page["next_cursor"]
        bad = await http.get("/v1/inbox", params={"cursor": "12"}, headers=ALICE)
    assert seen == sorted(ids, reverse=True)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid"


async def test_pagination_under_concurrent_inserts_skips_and_repeats_nothing(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    original = await add_notifications(sessions, "alice", 40)
    stop = asyncio.Event()

    async def writer() -> list[int]:
        added: list[int] = []
        while not stop.is_set():
            added += await add_notifications(sessions, "alice", 2)
            await asyncio.sleep(0)
        return added

    async with user_api(database_url) as http:
        task = asyncio.create_task(writer())
        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, str | int] = {"limit": 5, **({"cursor": cursor} if cursor else {})}
            page = (await http.get("/v1/inbox", params=params, headers=ALICE)).json()
            seen += [item["id"] for item in page["items"]]
            await add_notifications(sessions, "alice", 1)  # a guaranteed insert between pages
            if (cursor := page["next_cursor"]) is None:
                break
        stop.set()
        inserted = await task
    assert inserted, "the writer must have inserted while we paged"
    assert len(seen) == len(set(seen)), "an item was repeated"
    assert set(original) <= set(seen), "an item that existed before paging was skipped"
    assert seen == sorted(seen, reverse=True)


async def test_filters_unread_source_archived_since(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    unread = await add_notifications(sessions, "alice", 2, source="tenders")
    read = await add_notifications(sessions, "alice", 2, source="design", read=True)
    old = await add_notifications(sessions, "alice", 1, source="design")
    async with transaction(sessions) as session:
        await session.execute(
            update(Notification)
            .where(Notification.id == old[0])
            .values(created_at=datetime.now(UTC) - timedelta(days=30))
        )
    async with user_api(database_url) as http:

        async def ids(**params: str) -> set[int]:
            resp = await http.get("/v1/inbox", params=params, headers=ALICE)
            assert resp.status_code == 200, resp.text
            return {i["id"] for i in resp.json()["items"]}

        await http.post(f"/v1/inbox/{unread[0]}/archive", headers=ALICE)
        assert await ids(unread="true") == {unread[1], old[0]}
        assert await ids(unread="false") == set(read)
        assert await ids(source="design") == {*read, *old}
        assert await ids(archived="true") == {unread[0]}
        since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        assert await ids(since=since) == {unread[1], *read}


async def test_mark_read_unread_archive_are_idempotent_and_return_counts(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await add_notifications(sessions, "alice", 3)
    await add_notifications(sessions, "alice", 2, source="design")
    async with user_api(database_url) as http:
        first = (await http.post(f"/v1/inbox/{ids[0]}/read", headers=ALICE)).json()
        again = (await http.post(f"/v1/inbox/{ids[0]}/read", headers=ALICE)).json()
        assert first["changed"] and not again["changed"]
        assert first["item"]["read_at"] is not None
        assert first["counts"] == {"total": 4, "by_source": {"tenders": 2, "design": 2}}
        unread = (await http.post(f"/v1/inbox/{ids[0]}/unread", headers=ALICE)).json()
        assert unread["changed"] and unread["item"]["read_at"] is None
        archived = (await http.post(f"/v1/inbox/{ids[1]}/archive", headers=ALICE)).json()
        assert archived["counts"]["by_source"]["tenders"] == 2  # archived items don't count
        back = (await http.post(f"/v1/inbox/{ids[1]}/unarchive", headers=ALICE)).json()
        assert back["counts"]["by_source"]["tenders"] == 3
        missing = await http.post("/v1/inbox/999999/read", headers=ALICE)
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "notification 999999 not found",
        "details": None,
    }


async def test_read_all_per_module_and_up_to_an_id(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tenders = await add_notifications(sessions, "alice", 3)
    await add_notifications(sessions, "alice", 2, source="design")
    async with user_api(database_url) as http:
        body = {"source": "tenders", "up_to_id": tenders[1]}
        first = (await http.post("/v1/inbox/read-all", json=body, headers=ALICE)).json()
        assert first == {
            "updated": 2,
            "counts": {"total": 3, "by_source": {"tenders": 1, "design": 2}},
        }
        rest = (await http.post("/v1/inbox/read-all", headers=ALICE)).json()
        assert rest == {"updated": 3, "counts": {"total": 0, "by_source": {}}}
        bad = await http.post("/v1/inbox/read-all", json={"source": "a b"}, headers=ALICE)
    assert bad.status_code == 422


async def test_concurrent_marking_never_drifts_or_goes_negative(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await add_notifications(sessions, "alice", 10)
    async with user_api(database_url) as http:

        async def post(path: str) -> dict[str, Any]:
            resp = await http.post(path, headers=ALICE)
            assert resp.status_code == 200, resp.text
            result: dict[str, Any] = resp.json()
            return result

        # every item marked read by 4 callers at once, plus two read-alls racing them
        calls = [post(f"/v1/inbox/{i}/read") for i in ids for _ in range(4)]
        calls += [post("/v1/inbox/read-all"), post("/v1/inbox/read-all")]
        results = await asyncio.gather(*calls)
        changed = sum(1 for r in results if r.get("changed") is True)
        changed += sum(int(r.get("updated", 0)) for r in results)
        assert changed == len(ids), "each item went unread → read exactly once"
        # now flip half of them back and forth concurrently
        flips = [post(f"/v1/inbox/{i}/{s}") for i in ids[:5] for s in ("unread", "read") * 3]
        await asyncio.gather(*flips)
        counts = (await http.get("/v1/inbox/counts", headers=ALICE)).json()
    async with sessions() as session:
        truth = await session.scalar(
            select(func.count()).where(
                Notification.user_id == "alice", Notification.read_at.is_(None)
            )
        )
    assert truth is not None and counts["total"] == truth >= 0
    assert counts["by_source"].get("tenders", 0) == truth


async def test_a_state_change_pushes_counts_to_the_browser_exchange(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await add_notifications(sessions, "alice", 2)
    got: list[dict[str, object]] = []

    async def handler(message: Message) -> None:
        got.append(json.loads(message.body))

    async with user_api_app(database_url) as (app, http):
        bus = app.state.resources.bus
        spec = QueueSpec(f"test.browser.{uuid.uuid4().hex}", [(BROWSER_EXCHANGE, "")], False)
        consumer = await bus.consume(spec, handler, 10)
        await http.post(f"/v1/inbox/{ids[0]}/read", headers=ALICE)
        await http.post(f"/v1/inbox/{ids[0]}/read", headers=ALICE)  # no change, no push

        async def arrived() -> bool:
            return bool(got)

        await eventually(arrived)
        await consumer.cancel()
    assert got[0]["kind"] == "counts"
    assert got[0]["user_id"] == "alice"
    assert got[0]["counts"] == {"total": 1, "by_source": {"tenders": 1}}
    assert len(got) == 1


async def test_the_embedded_backend_sqlite_serves_the_same_api(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        ids = await add_notifications(make_sessionmaker(engine), "alice", 3)
        async with user_api(url) as http:
            page = (await http.get("/v1/inbox", params={"limit": 2}, headers=ALICE)).json()
            marked = (await http.post(f"/v1/inbox/{ids[0]}/read", headers=ALICE)).json()
            pref = {"changes": [{"source": "tenders", "channel": "email", "mode": "digest"}]}
            prefs = await http.put("/v1/preferences", json=pref, headers=ALICE)
            again = await http.put("/v1/preferences", json=pref, headers=ALICE)  # the upsert
    finally:
        await engine.dispose()
    assert [i["id"] for i in page["items"]] == [ids[2], ids[1]] and page["next_cursor"]
    assert marked["changed"] and marked["counts"]["total"] == 2
    assert prefs.status_code == again.status_code == 200
