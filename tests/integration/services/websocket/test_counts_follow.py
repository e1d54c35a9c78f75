"""Counts follow every change of the unread state (issue 16): a notification that reaches the
user only by e-mail still moves the badge of their open pages, and appears in their stream."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from herald.emit import sample_event
from libs.common.clients.producer import EventProducer
from libs.common.db.engine import transaction
from libs.common.db.models import ChannelPreference, Recipient
from tests.apps import user_token
from tests.integration.services.websocket.harness import gateway, recv_json
from tests.integration.services.websocket.pipeline import start_pipeline

USER = "u-17"


async def test_an_email_only_notification_moves_the_badge(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with transaction(sessions) as session:
        session.add(Recipient(tenant="default", user_id=USER, email="u17@example.com", locale="en"))
        off = ChannelPreference(
            tenant="default", user_id=USER, source="*", channel="browser", mode="off"
        )
        session.add(off)
    async with AsyncExitStack() as stack:
        await start_pipeline(stack, database_url, amqp_url, outbox=tmp_path)
        gw = await stack.enter_async_context(gateway(database_url, amqp_url))
        conn = await stack.enter_async_context(gw.connect(user_token(USER)))
        welcome = await recv_json(conn)
        event = sample_event()
        event["recipients"] = {"assignee": [USER]}
        async with EventProducer.amqp(amqp_url) as producer:
            await producer.emit(event)
        frames = [await recv_json(conn, 20) for _ in range(2)]
    assert list(tmp_path.glob("*.eml")), "sent by e-mail"
    assert [f["type"] for f in frames] == ["notification", "counts"]
    assert frames[0]["cursor"] != welcome["cursor"]
    assert frames[1]["counts"]["total"] == 1
