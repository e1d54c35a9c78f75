"""The sender as it runs (its app and loops) when the SMTP relay, the Bot API or the permissions
mediator is unreachable (a TCP proxy in front of each is cut), then back: nothing is lost,
nothing is sent twice, nothing is sent without a permission check, no attempt is spent on the
outage (the circuit breaker's business, docs/sender.md), and it catches up by itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery, DeliveryAttempt
from services.sender.app import create_app
from tests.acceptance.degradation.support import allow_all_mediator
from tests.apps import eventually, running
from tests.integration.services.sender.bot_api import TOKEN, FakeBotApi
from tests.integration.services.sender.support import SmtpSink, seed, sender_settings
from tests.integration.services.websocket.harness import http_server
from tests.unit.services.ingest.intake_support import TcpProxy

USERS = ["u-1", "u-2", "u-3"]
CATCH_UP_S = 40  # an unreachable provider is tried again every 5 s until the breaker opens


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    server = await SmtpSink().start()
    yield server
    await server.stop()


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[Delivery]:
    async with sessions() as session:
        return list(await session.scalars(select(Delivery).order_by(Delivery.id)))


async def _attempts(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(select(DeliveryAttempt.outcome))
        return sorted(rows)


def _all(
    sessions: async_sessionmaker[AsyncSession], ok: Callable[[Delivery], bool]
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        rows = await _rows(sessions)
        return bool(rows) and all(ok(r) for r in rows)

    return check


def _put_back(channel: str) -> float:
    name = "herald_sender_breaker_deferred_total"
    return REGISTRY.get_sample_value(name, {"channel": channel}) or 0.0


def _waiting(d: Delivery) -> bool:
    """Put back without an attempt, saying why."""
    return d.status == "PENDING" and d.attempts == 0 and "unreachable" in (d.last_error or "")


async def test_smtp_outage_spends_no_attempts_then_each_is_sent_once(
    database_url: str, sessions: async_sessionmaker[AsyncSession], sink: SmtpSink
) -> None:
    relay = TcpProxy("127.0.0.1", sink.port)
    await relay.start()
    await relay.cut()  # the relay is down before the first attempt
    ids = await seed(sessions, USERS)
    put_back = _put_back("email")
    async with AsyncExitStack() as stack:
        stack.push_async_callback(relay.cut)
        mediator_url = await stack.enter_async_context(http_server(allow_all_mediator()))
        settings = sender_settings(
            database_url, mediator_url=mediator_url, smtp_host="127.0.0.1", smtp_port=relay.port
        )
        http = await stack.enter_async_context(running(create_app(settings)))

        await eventually(_all(sessions, _waiting), timeout_s=30)
        assert sink.mails == [] and _put_back("email") >= put_back + len(ids)
        # SMTP is not a readiness dependency: the other channels keep going
        assert (await http.get("/readyz")).status_code == 200

        await relay.restore()
        await eventually(_all(sessions, lambda d: d.status == "SENT"), timeout_s=CATCH_UP_S)
    rows = await _rows(sessions)
    assert len(sink.mails) == len(ids)  # each exactly once
    assert sorted(sink.message_ids()) == sorted(f"<delivery-{i}@localhost>" for i in ids)
    assert await _attempts(sessions) == ["sent"] * len(ids)  # the outage cost nothing
    assert [r.attempts for r in rows] == [1] * len(ids)


async def test_mediator_outage_defers_without_spending_attempts(
    database_url: str, sessions: async_sessionmaker[AsyncSession], sink: SmtpSink
) -> None:
    async with AsyncExitStack() as stack:
        real_url = await stack.enter_async_context(http_server(allow_all_mediator()))
        port = int(real_url.rsplit(":", 1)[1])
        mediator = TcpProxy("127.0.0.1", port)
        await mediator.start()
        stack.push_async_callback(mediator.cut)
        await mediator.cut()
        ids = await seed(sessions, USERS)
        settings = sender_settings(
            database_url,
            mediator_url=f"http://127.0.0.1:{mediator.port}",
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
        )
        await stack.enter_async_context(running(create_app(settings)))

        def deferred(d: Delivery) -> bool:
            why = d.last_error or ""
            return d.status == "PENDING" and "permission check unavailable" in why

        await eventually(_all(sessions, deferred), timeout_s=30)
        assert sink.mails == []  # never sent blind
        assert [r.attempts for r in await _rows(sessions)] == [0] * len(ids)

        await mediator.restore()
        await eventually(_all(sessions, lambda d: d.status == "SENT"), timeout_s=CATCH_UP_S)
    assert [r.attempts for r in await _rows(sessions)] == [1] * len(ids)
    assert await _attempts(sessions) == ["sent"] * len(ids)
    assert len(sink.mails) == len(ids)


async def test_telegram_outage_spends_no_attempts_then_each_chat_gets_one_message(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    api = await FakeBotApi().start()
    bot_port = int(api.url.rsplit(":", 1)[1])
    async with AsyncExitStack() as stack:
        stack.push_async_callback(api.stop)
        bot = TcpProxy("127.0.0.1", bot_port)
        await bot.start()
        stack.push_async_callback(bot.cut)
        await bot.cut()
        ids = await seed(sessions, USERS, ("telegram",), chat_of=lambda u: f"10{u[-1]}")
        mediator_url = await stack.enter_async_context(http_server(allow_all_mediator()))
        settings = sender_settings(
            database_url,
            mediator_url=mediator_url,
            telegram_bot_token=TOKEN,
            telegram_api_url=f"http://127.0.0.1:{bot.port}",
        )
        await stack.enter_async_context(running(create_app(settings)))

        await eventually(_all(sessions, _waiting), timeout_s=30)
        assert api.delivered() == [] and _put_back("telegram") >= len(ids)

        await bot.restore()
        await eventually(_all(sessions, lambda d: d.status == "SENT"), timeout_s=CATCH_UP_S)
    assert sorted(s.chat_id for s in api.delivered()) == ["101", "102", "103"]
    assert len(ids) == len(api.delivered())
    assert await _attempts(sessions) == ["sent"] * len(ids)
