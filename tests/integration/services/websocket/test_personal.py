"""The personal channel: a user's notifications and counters from herald.browser, and resume
after a disconnect replaying exactly what was missed, from the inbox, by cursor."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Event, Notification
from libs.common.inbox.inbox_cursor import encode, reveal
from libs.common.schemas.inbox import InboxItem
from tests.apps import eventually, user_token
from tests.integration.services.websocket.harness import command, gateway, recv_json


class Numbered(NamedTuple):
    seq: int
    item: InboxItem


async def _notifications(
    sessions: async_sessionmaker[AsyncSession], user: str, titles: list[str], visible: bool = True
) -> list[Numbered]:
    """Notifications as the processor writes them, made visible as the sender's check does."""
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
        if visible:
            await reveal(session, [row.id for row in rows])
        for row in rows:
            await session.refresh(row)
        return [Numbered(row.user_seq or 0, InboxItem.model_validate(row)) for row in rows]


def _push(note: Numbered, user: str, tenant: str = "default") -> dict[str, Any]:
    return {
        "kind": "notification",
        "tenant": tenant,
        "user_id": user,
        "notification": note.item.model_dump(mode="json"),
        "seq": note.seq or None,
    }


def _titles(frames: list[dict[str, Any]]) -> list[str]:
    return [f["item"]["title"] for f in frames]


async def _auth(conn: Any, user: str, resume: str | None = None) -> dict[str, Any]:
    body = {"type": "auth", "token": user_token(user)}
    if resume is not None:
        body["resume"] = resume
    return await command(conn, body)


async def test_pushes_reach_only_their_user(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    theirs = await _notifications(sessions, "u-2", ["theirs"])
    async with (
        gateway(database_url, amqp_url) as gw,
        gw.connect(user_token("u-1")) as one,
        gw.connect(user_token("u-1")) as tab,
    ):
        await recv_json(one), await recv_json(tab)
        mine = await _notifications(sessions, "u-1", ["mine"])  # after welcome: live
        await gw.push(_push(theirs[0], "u-2"))
        await gw.push(_push(theirs[0], "u-1", tenant="acme"))  # same user id, other tenant
        await gw.push({"kind": "bogus"})
        counts = {"total": 3, "by_source": {"tenders": 3}}
        await gw.push({**_push(mine[0], "u-1"), "counts": counts})  # as the sender sends it
        await gw.push({"kind": "counts", "tenant": "default", "user_id": "u-1", "counts": counts})
        for conn in (one, tab):  # every tab of the user gets it, nothing else came first
            got = await recv_json(conn)
            assert (got["type"], got["item"]["title"]) == ("notification", "mine")
            assert got["cursor"] == encode(mine[0].seq)
            for _ in range(2):  # with the notification, then alone
                assert await recv_json(conn) == {"type": "counts", "counts": counts}


async def test_resume_in_auth_replays_exactly_the_missed_ones(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    seen = await _notifications(sessions, "u-1", ["n1", "n2"])
    async with gateway(database_url, amqp_url) as gw:
        async with gw.connect() as conn:
            welcome = await _auth(conn, "u-1")
            assert welcome["cursor"] == encode(seen[-1].seq)  # live from here on
            fresh = await _notifications(sessions, "u-1", ["n3"])
            await gw.push(_push(fresh[0], "u-1"))
            frame = await recv_json(conn)
            assert (frame["item"]["title"], frame["cursor"]) == ("n3", encode(fresh[0].seq))
            cursor = frame["cursor"]
        # offline: two more arrive (their pushes reach nobody), one for someone else, one
        # hidden (its permission check has not allowed it)
        missed = await _notifications(sessions, "u-1", ["n4", "n5"])
        for note in missed:
            await gw.push(_push(note, "u-1"))
        await _notifications(sessions, "u-2", ["not yours"])
        await _notifications(sessions, "u-1", ["hidden"], visible=False)
        async with gw.connect() as conn:
            welcome = await _auth(conn, "u-1", resume=cursor)
            assert welcome["cursor"] == encode(missed[-1].seq)
            replayed = [await recv_json(conn) for _ in missed]
            assert _titles(replayed) == ["n4", "n5"]
            done = await recv_json(conn)
            assert done == {
                "type": "resumed",
                "id": None,
                "cursor": encode(missed[-1].seq),
                "count": 2,
                "recovered": True,
            }
            assert (await recv_json(conn))["type"] == "counts"
            (n6,) = await _notifications(sessions, "u-1", ["n6"])  # live again, once
            await gw.push(_push(n6, "u-1"))
            assert (await recv_json(conn))["item"]["title"] == "n6"
            again = await command(conn, {"type": "resume", "id": "r", "cursor": done["cursor"]})
            assert again["item"]["title"] == "n6"  # everything after the cursor asked for
            assert (await recv_json(conn))["type"] == "resumed"


async def test_replay_comes_in_pages_and_a_too_old_cursor_is_not_recovered(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    notes = await _notifications(sessions, "u-1", [f"n{i}" for i in range(7)])
    limits = {"ws_resume_limit": 2, "ws_resume_max_items": 5}
    async with gateway(database_url, amqp_url, **limits) as gw:
        async with gw.connect() as conn:
            await _auth(conn, "u-1", resume=encode(notes[1].seq))
            replayed = [await recv_json(conn) for _ in range(5)]  # three pages of two
            assert _titles(replayed) == [f"n{i}" for i in range(2, 7)]
            assert (await recv_json(conn))["count"] == 5
        for too_old in (encode(0), "garbage", encode(notes[-1].seq + 1)):
            async with gw.connect() as conn:
                await _auth(conn, "u-1", resume=too_old)
                done = await recv_json(conn)
                assert (done["type"], done["recovered"]) == ("resumed", False), too_old
                assert done["cursor"] == encode(notes[-1].seq)  # reload, then live from here


async def test_deprecated_last_id_resume_still_works(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    seen = await _notifications(sessions, "u-1", ["n1"])
    missed = await _notifications(sessions, "u-1", ["n2", "n3"])
    async with gateway(database_url, amqp_url) as gw, gw.connect(user_token("u-1")) as conn:
        await recv_json(conn)
        first = await command(conn, {"type": "resume", "id": "r1", "last_id": seen[0].item.id})
        replayed = [first, await recv_json(conn)]
        assert _titles(replayed) == ["n2", "n3"]
        assert await recv_json(conn) == {
            "type": "resumed",
            "id": "r1",
            "count": 2,
            "last_id": missed[-1].item.id,
            "more": False,
        }
        assert (await recv_json(conn))["counts"]["total"] == 3


async def test_pushes_out_of_order_are_delivered_in_cursor_order(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Two senders publish n2 after n3: the gateway reads n2 from the inbox first, then
    drops the late n2 push as a repeat."""
    async with gateway(database_url, amqp_url) as gw, gw.connect() as conn:
        await _auth(conn, "u-1")
        n1, n2, n3 = await _notifications(sessions, "u-1", ["n1", "n2", "n3"])
        for note in (n1, n3, n2):
            await gw.push(_push(note, "u-1"))
        frames = [await recv_json(conn) for _ in range(3)]
        assert _titles(frames) == ["n1", "n2", "n3"]
        assert [f["cursor"] for f in frames] == [encode(n.seq) for n in (n1, n2, n3)]
        assert (await command(conn, {"type": "ping"}))["type"] == "pong"  # n2 not again


async def test_resume_with_the_database_down_closes_to_retry(
    amqp_url: str, database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Nothing is lost by closing: the client reconnects and resumes from its cursor."""
    down = f"postgresql+asyncpg://postgres@127.0.0.1:1/{uuid.uuid4().hex}"
    async with gateway(down, amqp_url) as gw, gw.connect() as conn:
        await conn.send(json.dumps({"type": "auth", "token": user_token("u-1")}))
        await conn.wait_closed()
        assert conn.close_code == 1013


async def test_pushes_during_a_resume_come_after_its_answer(
    database_url: str,
    amqp_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A live notification and its counters that arrive while the replay reads the inbox are
    held: the notification is sent once (here the replay already carries it), and the live
    counters after the replay's own, which may have been read before them."""
    _, n2 = await _notifications(sessions, "u-1", ["n1", "n2"])
    live_counts = {"total": 7, "by_source": {"tenders": 7}}
    async with gateway(database_url, amqp_url) as gw, gw.connect() as conn:
        await _auth(conn, "u-1")
        (client,) = gw.gateway.registry.of_user("default", "u-1")
        async with engine.connect() as blocker, blocker.begin():
            # the replay's read waits behind this lock while the live push arrives
            await blocker.execute(text("LOCK TABLE notifications IN ACCESS EXCLUSIVE MODE"))
            await conn.send(json.dumps({"type": "resume", "id": "r", "cursor": encode(0)}))
            await eventually(lambda: _is(client.held is not None))
            await gw.push({**_push(n2, "u-1"), "counts": live_counts})
            await eventually(lambda: _is(client.held_counts is not None))
        frames = [await recv_json(conn) for _ in range(5)]
    assert _titles(frames[:2]) == ["n1", "n2"]
    assert frames[2] == {
        "type": "resumed",
        "id": "r",
        "cursor": encode(n2.seq),
        "count": 2,
        "recovered": True,
    }
    assert frames[3] == {"type": "counts", "counts": {"total": 2, "by_source": {"tenders": 2}}}
    assert frames[4] == {"type": "counts", "counts": live_counts}
    assert client.held is None and client.held_counts is None
    assert client.seq == n2.seq


async def _is(value: bool) -> bool:
    return value


async def test_welcome_holds_pushes_until_it_is_sent(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """No frame before welcome, even when a push arrives while the cursor is read."""
    async with gateway(database_url, amqp_url) as gw:
        for _ in range(5):
            (note,) = await _notifications(sessions, "u-1", ["n"])
            async with gw.connect() as conn:
                await conn.send(json.dumps({"type": "auth", "token": user_token("u-1")}))
                await asyncio.sleep(0)
                await gw.push(_push(note, "u-1"))
                assert (await recv_json(conn))["type"] == "welcome"
