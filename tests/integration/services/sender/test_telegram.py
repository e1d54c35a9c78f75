"""Telegram through the sender, aiogram pointed at a local Bot API: flood limits held,
429 retry_after honoured, a blocked or unknown chat failed for good."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery, DeliveryAttempt, Recipient
from services.sender.providers.telegram import TelegramProvider, make_bot
from services.sender.worker import Sender
from tests.apps import eventually
from tests.integration.services.sender.bot_api import (
    BLOCKED,
    CHAT_NOT_FOUND,
    RETRY_AFTER_1S,
    TOKEN,
    FakeBotApi,
)
from tests.integration.services.sender.support import mediator, seed, sender_settings


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    api = await FakeBotApi().start()
    yield api
    await api.stop()


def chat_of(user: str) -> str:
    return str(1000 + int(user.split("-")[1]))


async def run_until_settled(
    database_url: str, sessions: async_sessionmaker[AsyncSession], bot_api: FakeBotApi
) -> None:
    settings = sender_settings(database_url, telegram_bot_token=TOKEN, telegram_api_url=bot_api.url)
    provider = TelegramProvider(make_bot(TOKEN, bot_api.url))
    sender = Sender(sessions, {"telegram": provider}, mediator(), settings)
    loop = asyncio.create_task(sender.run_forever())

    async def settled() -> bool:
        async with sessions() as session:
            statuses = set((await session.scalars(select(Delivery.status))).all())
        return not statuses & {"PENDING", "SENDING"}

    await eventually(settled, timeout_s=30)
    sender.stop()
    await loop
    await provider.close()


async def test_at_most_one_message_per_second_per_chat_and_30_per_second_per_bot(
    database_url: str, sessions: async_sessionmaker[AsyncSession], bot_api: FakeBotApi
) -> None:
    many = [f"u-{i}" for i in range(45)]
    await seed(sessions, many, ("telegram",), chat_of=chat_of)
    for entity in ("T-2", "T-3"):  # u-0 gets two more, in the same batch
        await seed(sessions, ["u-0"], ("telegram",), entity_id=entity, with_recipients=False)
    await run_until_settled(database_url, sessions, bot_api)

    assert len(bot_api.delivered()) == 47
    to_u0 = [s.at for s in bot_api.delivered("1000")]
    assert len(to_u0) == 3
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(to_u0))
    times = sorted(s.at for s in bot_api.sent)
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 30
    async with sessions() as session:
        rows = (await session.scalars(select(Delivery))).all()
    assert {d.status for d in rows} == {"SENT"}
    assert {d.attempts for d in rows} == {1}  # waiting for a slot is not an attempt


async def test_429_retry_after_is_honoured(
    database_url: str, sessions: async_sessionmaker[AsyncSession], bot_api: FakeBotApi
) -> None:
    [one] = await seed(sessions, ["u-7"], ("telegram",), chat_of=chat_of)
    bot_api.errors["1007"] = [RETRY_AFTER_1S]
    await run_until_settled(database_url, sessions, bot_api)

    calls = [s for s in bot_api.sent if s.chat_id == "1007"]
    assert [c.answered for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.0
    assert "Tender T-1001: deadline moved" in calls[1].text
    async with sessions() as session:
        row = await session.get(Delivery, one)
        assert row is not None
        assert (row.status, row.attempts) == ("SENT", 2)
        assert row.provider_message_id is not None and row.provider_message_id.startswith("1007:")
        trail = (await session.scalars(select(DeliveryAttempt.outcome))).all()
    assert sorted(trail) == ["retry", "sent"]


async def test_blocked_or_unknown_chat_is_permanent(
    database_url: str, sessions: async_sessionmaker[AsyncSession], bot_api: FakeBotApi
) -> None:
    await seed(sessions, ["u-1", "u-2"], ("telegram",), chat_of=chat_of)
    bot_api.errors["1001"] = [BLOCKED]
    bot_api.errors["1002"] = [CHAT_NOT_FOUND]
    await run_until_settled(database_url, sessions, bot_api)

    async with sessions() as session:
        rows = {d.user_id: d for d in (await session.scalars(select(Delivery))).all()}
    assert rows["u-1"].status == "FAILED" and "blocked" in (rows["u-1"].last_error or "")
    assert rows["u-2"].status == "FAILED" and "chat not found" in (rows["u-2"].last_error or "")
    assert len(bot_api.sent) == 2  # tried once each, never again
    async with sessions() as session:  # dead chats are unlinked: later events skip Telegram
        chats = (await session.scalars(select(Recipient.telegram_chat_id))).all()
    assert chats == [None, None]
