"""The inbox is a send-time surface (DESIGN §13): only ``access = 'allowed'`` items are shown,
and every page is re-checked with the mediator in one batch, hiding (and recording) what the
user may no longer read, so that list and counts agree."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus.base import Message, QueueSpec
from libs.common.bus.topology import BROWSER_EXCHANGE
from libs.common.db.models import Notification
from libs.common.inbox.access import ALLOWED, DENIED
from libs.common.schemas.permissions import PermissionAnswer, PermissionItem
from tests.apps import NO_MEDIATOR, eventually
from tests.integration.services.ingest.user_api_data import (
    add_notifications,
    auth,
    user_api,
    user_api_app,
)
from tests.integration.services.sender.support import Decide

ALICE = auth("alice")
MARKS = ("read", "unread", "archive", "unarchive")


async def _entities(sessions: async_sessionmaker[AsyncSession], ids: list[int]) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(select(Notification.id, Notification.entity_id))
        by_id = dict(rows.all())
    return [by_id[i] for i in ids]


async def _access(sessions: async_sessionmaker[AsyncSession], ids: list[int]) -> list[str | None]:
    async with sessions() as session:
        rows = await session.execute(select(Notification.id, Notification.access))
        by_id = dict(rows.all())
    return [by_id[i] for i in ids]


def denying(objects: set[str]) -> Decide:
    """The module's answer: these objects may not be read, everything else may."""

    def decide(item: PermissionItem) -> PermissionAnswer:
        return PermissionAnswer(read=item.object_id not in objects)

    return decide


async def test_list_and_counts_show_only_allowed_items(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    shown = await add_notifications(sessions, "alice", 2)
    await add_notifications(sessions, "alice", 1, access=DENIED)
    await add_notifications(sessions, "alice", 1, access=None)  # not checked yet
    async with user_api(database_url) as http:
        page = (await http.get("/v1/inbox", headers=ALICE)).json()
        counts = (await http.get("/v1/inbox/counts", headers=ALICE)).json()
        unread = (await http.get("/v1/inbox", params={"unread": "true"}, headers=ALICE)).json()
    assert [i["id"] for i in page["items"]] == sorted(shown, reverse=True)
    assert [i["id"] for i in unread["items"]] == sorted(shown, reverse=True)
    assert counts == {"total": 2, "by_source": {"tenders": 2}}


async def test_a_page_is_rechecked_and_a_revoked_item_is_hidden_and_recorded(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await add_notifications(sessions, "alice", 3)
    revoked = (await _entities(sessions, [ids[1]]))[0]
    asked: list[PermissionItem] = []

    def decide(item: PermissionItem) -> PermissionAnswer:
        asked.append(item)
        return PermissionAnswer(read=item.object_id != revoked)

    async with user_api(database_url, decide) as http:
        before = (await http.get("/v1/inbox/counts", headers=ALICE)).json()
        page = (await http.get("/v1/inbox", headers=ALICE)).json()
        after = (await http.get("/v1/inbox/counts", headers=ALICE)).json()
    assert before["total"] == 3
    assert [i["id"] for i in page["items"]] == [ids[2], ids[0]]
    assert revoked not in json.dumps(page)
    assert after["total"] == 2, "counts follow what the page found"
    assert await _access(sessions, ids) == [ALLOWED, DENIED, ALLOWED]
    assert {(a.user_id, a.module, a.object_type) for a in asked} == {("alice", "tenders", "tender")}
    assert len(asked) == 3, "one question per item of the page"


async def test_a_revoked_item_already_read_disappears_too(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [read] = await add_notifications(sessions, "alice", 1, read=True)
    [entity] = await _entities(sessions, [read])
    async with user_api(database_url, denying({entity})) as http:
        page = (await http.get("/v1/inbox", params={"unread": "false"}, headers=ALICE)).json()
    assert page["items"] == []
    assert await _access(sessions, [read]) == [DENIED]


async def test_an_undetermined_answer_hides_the_item_for_now_without_recording_a_denial(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await add_notifications(sessions, "alice", 2)
    [broken] = await _entities(sessions, [ids[0]])

    def decide(item: PermissionItem) -> PermissionAnswer:
        if item.object_id == broken:
            return PermissionAnswer(read=False, error="tenders backend timed out")
        return PermissionAnswer(read=True)

    async with user_api(database_url, decide) as http:
        page = (await http.get("/v1/inbox", headers=ALICE)).json()
    assert [i["id"] for i in page["items"]] == [ids[1]]
    assert await _access(sessions, ids) == [ALLOWED, ALLOWED]


async def test_a_page_short_of_hidden_items_is_filled_from_older_ones(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await add_notifications(sessions, "alice", 10)
    newest = set(await _entities(sessions, ids[-4:]))
    async with user_api(database_url, denying(newest)) as http:
        first = (await http.get("/v1/inbox", params={"limit": 3}, headers=ALICE)).json()
        params = {"limit": 3, "cursor": first["next_cursor"]}
        second = (await http.get("/v1/inbox", params=params, headers=ALICE)).json()
    assert [i["id"] for i in first["items"]] == [ids[5], ids[4], ids[3]]
    assert [i["id"] for i in second["items"]] == [ids[2], ids[1], ids[0]]


async def test_without_the_mediator_the_list_answers_503_and_shows_nothing(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await add_notifications(sessions, "alice", 2)
    async with user_api(database_url, mediator_url=NO_MEDIATOR) as http:
        page = await http.get("/v1/inbox", headers=ALICE)
        counts = await http.get("/v1/inbox/counts", headers=ALICE)
    assert page.status_code == 503, page.text
    assert page.headers["Retry-After"]
    assert "item 0" not in page.text
    assert counts.status_code == 200 and counts.json()["total"] == 2


async def test_state_changes_reach_only_visible_items(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [denied] = await add_notifications(sessions, "alice", 1, access=DENIED)
    [unchecked] = await add_notifications(sessions, "alice", 1, access=None)
    [revoked, kept] = await add_notifications(sessions, "alice", 2)
    [revoked_entity] = await _entities(sessions, [revoked])
    async with user_api(database_url, denying({revoked_entity})) as http:
        answers = {
            (item, action): await http.post(f"/v1/inbox/{item}/{action}", headers=ALICE)
            for item in (denied, unchecked, revoked)
            for action in MARKS
        }
        all_read = (await http.post("/v1/inbox/read-all", json={}, headers=ALICE)).json()
    for (item, action), resp in answers.items():
        assert resp.status_code == 404, (item, action, resp.text)
        assert "item " not in resp.text
    assert all_read["updated"] == 1 and all_read["counts"]["total"] == 0
    async with sessions() as session:
        rows = await session.execute(select(Notification.id, Notification.read_at))
        read_at = dict(rows.all())
    assert read_at[kept] is not None
    assert [read_at[i] for i in (denied, unchecked, revoked)] == [None, None, None]
    assert await _access(sessions, [denied, unchecked, revoked]) == [DENIED, None, DENIED]


async def test_a_denial_found_on_a_page_pushes_the_new_counts(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await add_notifications(sessions, "alice", 2)
    entities = await _entities(sessions, ids)
    got: list[dict[str, object]] = []

    async def handler(message: Message) -> None:
        got.append(json.loads(message.body))

    async with user_api_app(database_url, denying({entities[0]})) as (app, http):
        bus = app.state.resources.bus
        spec = QueueSpec(f"test.browser.{uuid.uuid4().hex}", [(BROWSER_EXCHANGE, "")], False)
        consumer = await bus.consume(spec, handler, 10)
        await http.get("/v1/inbox", headers=ALICE)

        async def arrived() -> bool:
            return bool(got)

        await eventually(arrived)
        await consumer.cancel()
    assert got == [
        {
            **got[0],
            "kind": "counts",
            "user_id": "alice",
            "counts": {"total": 1, "by_source": {"tenders": 1}},
        }
    ]
