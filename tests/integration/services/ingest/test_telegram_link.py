"""Linking Telegram: ingest hands out a one-time deep link; the sender's poller reads
``/start <token>`` from a local Bot API and stores the chat; ``/stop`` unlinks."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Recipient, TelegramLink, utcnow
from services.ingest.app import create_app
from services.sender.providers.telegram import make_bot
from services.sender.telegram_link import HELP, INVALID, LINKED, UNLINKED, TelegramLinker
from tests.apps import ingest_settings, running, user_token
from tests.integration.services.sender.bot_api import BOT_USERNAME, TOKEN, FakeBotApi

LINK = re.compile(rf"^https://t\.me/{BOT_USERNAME}\?start=([A-Za-z0-9_-]{{32}})$")


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    api = await FakeBotApi().start()
    yield api
    await api.stop()


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {user_token(user)}"}


async def chat_of(sessions: async_sessionmaker[AsyncSession], user: str) -> str | None:
    async with sessions() as session:
        return await session.scalar(
            select(Recipient.telegram_chat_id).where(Recipient.user_id == user)
        )


async def test_deep_link_then_start_links_and_stop_unlinks(
    database_url: str, sessions: async_sessionmaker[AsyncSession], bot_api: FakeBotApi
) -> None:
    settings = ingest_settings(database_url, "memory://tg-link", telegram_bot_username=BOT_USERNAME)
    bot = make_bot(TOKEN, bot_api.url)
    linker = TelegramLinker(bot, sessions)
    async with running(create_app(settings, consume=False)) as http:
        assert (await http.post("/v1/telegram/link")).status_code == 401
        resp = await http.post("/v1/telegram/link", headers=auth("u-17"))
        assert resp.status_code == 201, resp.text
        match = LINK.match(resp.json()["url"])
        assert match is not None
        token = match.group(1)
        async with sessions() as session:
            stored = (await session.scalars(select(TelegramLink.token))).all()
        assert token not in stored and len(stored) == 1  # only its hash is kept

        bot_api.queue_text(555, f"/start {token}")
        bot_api.queue_text(777, f"/start {token}")  # a second use: one-time
        bot_api.queue_text(555, "hello")  # not a command: no answer
        assert await linker.poll_once(timeout_s=0) == 3
        assert await chat_of(sessions, "u-17") == "555"
        assert [(s.chat_id, s.text) for s in bot_api.sent] == [("555", LINKED), ("777", INVALID)]
        state = await http.get("/v1/telegram/link", headers=auth("u-17"))
        assert state.json() == {"linked": True}

        bot_api.queue_text(555, "/stop")
        assert await linker.poll_once(timeout_s=0) == 1  # the offset moved past the others
        assert await chat_of(sessions, "u-17") is None
        assert bot_api.sent[-1].text == UNLINKED
        assert (await http.get("/v1/telegram/link", headers=auth("u-17"))).json() == {
            "linked": False
        }
    await bot.session.close()


async def test_expired_link_and_bare_start_and_unlink_from_the_web(
    database_url: str, sessions: async_sessionmaker[AsyncSession], bot_api: FakeBotApi
) -> None:
    settings = ingest_settings(
        database_url, "memory://tg-link2", telegram_bot_username=BOT_USERNAME
    )
    bot = make_bot(TOKEN, bot_api.url)
    linker = TelegramLinker(bot, sessions)
    async with running(create_app(settings, consume=False)) as http:
        first = LINK.match(
            (await http.post("/v1/telegram/link", headers=auth("u-3"))).json()["url"]
        )
        fresh = LINK.match(
            (await http.post("/v1/telegram/link", headers=auth("u-3"))).json()["url"]
        )
        assert first and fresh
        bot_api.queue_text(901, f"/start {first.group(1)}")  # superseded by the newer link
        bot_api.queue_text(902, "/start")
        await linker.poll_once(timeout_s=0)
        assert [s.text for s in bot_api.sent] == [INVALID, HELP]

        async with sessions() as session, session.begin():
            await session.execute(
                update(TelegramLink).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        bot_api.queue_text(903, f"/start {fresh.group(1)}")
        await linker.poll_once(timeout_s=0)
        assert bot_api.sent[-1].text == INVALID and await chat_of(sessions, "u-3") is None

        async with sessions() as session, session.begin():
            session.add(
                Recipient(
                    tenant="default", user_id="u-3", telegram_chat_id="42", roles=[], attributes={}
                )
            )
        assert (await http.delete("/v1/telegram/link", headers=auth("u-3"))).status_code == 204
        assert await chat_of(sessions, "u-3") is None
    await bot.session.close()


async def test_link_is_refused_when_no_bot_is_configured(database_url: str) -> None:
    settings = ingest_settings(database_url, "memory://tg-link3")
    async with running(create_app(settings, consume=False)) as http:
        resp = await http.post("/v1/telegram/link", headers=auth("u-1"))
    assert resp.status_code == 503 and "not configured" in resp.text
