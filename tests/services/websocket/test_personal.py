"""The personal channel: a user's notifications and counters from herald.browser, and resume
after a disconnect replaying exactly what was missed, from the inbox."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Event, Notification
from libs.common.schemas.inbox import InboxItem
from tests.apps import eventually, user_token
from tests.services.websocket.harness import command, gateway, recv_json


async def _notifications(
    sessions: async_sessionmaker[AsyncSession], user: str, titles: list[str]
) -> list[InboxItem]:
    async with transaction(sessions) as session:
        rows = []
        for title in titles:
            event = Event(tenant="default", source="tenders", type="tender.updated")
            session.add(event)
            await session.flush()
            row = Notification(
                tenant="default",
                event_id=event.id,
                user_id=user,
                reason="direct:assignee",
                source="tenders",
                type="tender.updated",
                entity_type="tender",
                entity_id="T-1",
                title=title,
                body=title,
            )
            session.add(row)
            rows.append(row)
        await session.flush()
        return [InboxItem.model_validate(row) for row in rows]


def _push(item: InboxItem, user: str, tenant: str = "default") -> dict[str, Any]:
    return {
        "kind": "notification",
        "tenant": tenant,
        "user_id": user,
        "notification": item.model_dump(mode="json"),
    }


async def test_pushes_reach_only_their_user(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mine = await _notifications(sessions, "u-1", ["mine"])
    theirs = await _notifications(sessions, "u-2", ["theirs"])
    async with (
        gateway(database_url, amqp_url) as gw,
        gw.connect(user_token("u-1")) as one,
        gw.connect(user_token("u-1")) as tab,
    ):
        await recv_json(one), await recv_json(tab)
        await gw.push(_push(theirs[0], "u-2"))
        await gw.push(_push(theirs[0], "u-1", tenant="acme"))  # same user id, other tenant
        await gw.push({"kind": "bogus"})
        counts = {"total": 3, "by_source": {"tenders": 3}}
        await gw.push({**_push(mine[0], "u-1"), "counts": counts})  # as the sender sends it
        await gw.push({"kind": "counts", "tenant": "default", "user_id": "u-1", "counts": counts})
        for conn in (one, tab):  # every tab of the user gets it, nothing else came first
            got = await recv_json(conn)
            assert (got["type"], got["item"]["title"]) == ("notification", "mine")
            for _ in range(2):  # with the notification, then alone
                assert await recv_json(conn) == {"type": "counts", "counts": counts}


async def test_resume_replays_exactly_the_missed_ones(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    seen = await _notifications(sessions, "u-1", ["n1", "n2"])
    async with gateway(database_url, amqp_url) as gw:
        async with gw.connect(user_token("u-1")) as conn:
            await recv_json(conn)
            for item in seen:
                await gw.push(_push(item, "u-1"))
            last_seen = [(await recv_json(conn))["item"]["id"] for _ in seen][-1]
        # offline: two more arrive (their pushes reach nobody), one for someone else
        missed = await _notifications(sessions, "u-1", ["n3", "n4"])
        for item in missed:
            await gw.push(_push(item, "u-1"))
        await _notifications(sessions, "u-2", ["not yours"])
        async with gw.connect(user_token("u-1")) as conn:
            await recv_json(conn)
            first = await command(conn, {"type": "resume", "id": "r1", "last_id": last_seen})
            replayed = [first, await recv_json(conn)]
            assert [f["item"]["title"] for f in replayed] == ["n3", "n4"]
            done = await recv_json(conn)
            assert done == {
                "type": "resumed",
                "id": "r1",
                "count": 2,
                "last_id": missed[-1].id,
                "more": False,
            }
            assert (await recv_json(conn))["counts"] == {"total": 4, "by_source": {"tenders": 4}}
            # live again: the next one arrives once
            (fresh,) = await _notifications(sessions, "u-1", ["n5"])
            await gw.push(_push(fresh, "u-1"))
            assert (await recv_json(conn))["item"]["id"] == fresh.id
            nothing_new = await command(conn, {"type": "resume", "last_id": fresh.id})
            assert nothing_new["type"] == "resumed" and nothing_new["count"] == 0


async def test_resume_with_the_database_down_answers_unavailable(
    amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    down = f"postgresql+asyncpg://postgres@127.0.0.1:1/{uuid.uuid4().hex}"
    async with gateway(down, amqp_url) as gw, gw.connect(user_token("u-1")) as conn:
        await recv_json(conn)
        reply = await command(conn, {"type": "resume", "id": "r", "last_id": 0})
        assert (reply["type"], reply["code"], reply["id"]) == ("error", "unavailable", "r")
        assert (await command(conn, {"type": "ping"}))["type"] == "pong"  # still connected


async def test_pushes_during_a_resume_come_after_its_answer(
    database_url: str,
    amqp_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A live notification and its counters that arrive while the replay reads the inbox are
    held: the notification is sent once (here the replay already carries it), and the live
    counters after the resume's own, which may have been read before them."""
    _, n2 = await _notifications(sessions, "u-1", ["n1", "n2"])
    live_counts = {"total": 7, "by_source": {"tenders": 7}}
    async with gateway(database_url, amqp_url) as gw, gw.connect(user_token("u-1")) as conn:
        await recv_json(conn)
        (client,) = gw.gateway.registry.of_user("default", "u-1")
        async with engine.connect() as blocker, blocker.begin():
            # the replay's read waits behind this lock while the live push arrives
            await blocker.execute(text("LOCK TABLE notifications IN ACCESS EXCLUSIVE MODE"))
            await conn.send(json.dumps({"type": "resume", "id": "r", "last_id": 0}))
            await eventually(lambda: _is(client.replay is not None))
            await gw.push({**_push(n2, "u-1"), "counts": live_counts})
            await eventually(lambda: _is(client.held_counts is not None))
        frames = [await recv_json(conn) for _ in range(5)]
    assert [f.get("item", {}).get("title") for f in frames[:2]] == ["n1", "n2"]
    assert frames[2] == {"type": "resumed", "id": "r", "count": 2, "last_id": n2.id, "more": False}
    assert frames[3] == {"type": "counts", "counts": {"total": 2, "by_source": {"tenders": 2}}}
    assert frames[4] == {"type": "counts", "counts": live_counts}
    assert client.replay is None and client.held_counts is None


async def _is(value: bool) -> bool:
    return value
