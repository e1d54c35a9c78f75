"""A provider down for an hour spends no delivery attempts (DESIGN §6): the circuit breaker
defers its deliveries, probes with one delivery a minute, and when the provider is back every
delivery goes out exactly once. Real SMS gateway (aiohttp) and SMTP server (aiosmtpd), both
stopped and restarted on their port; an hour of wall clock under time-machine."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import time_machine
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus.memory import MemoryBus
from libs.common.db.models import Delivery, DeliveryAttempt, Recipient
from services.sender.breaker import State
from services.sender.channels import build_providers
from services.sender.providers.base import Address, OutgoingMessage, Provider, ProviderResult
from services.sender.settings import SenderSettings
from services.sender.worker import Sender
from tests.integration.services.sender.sms_gateway import TOKEN, SmsGateway
from tests.integration.services.sender.support import SmtpSink, mediator, seed, sender_settings

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PEOPLE = 20
MINUTE_S = 60
BREAKER = {"sender_breaker_failures": 3, "sender_breaker_probe_s": MINUTE_S}


class Counted(Provider):
    """The real provider, counting how often it was asked to send (probes included)."""

    def __init__(self, inner: Provider) -> None:
        self.inner, self.calls, self.channel = inner, 0, inner.channel

    async def close(self) -> None:
        await self.inner.close()

    async def send(self, to: Address, message: OutgoingMessage) -> ProviderResult:
        self.calls += 1
        return await self.inner.send(to, message)


@asynccontextmanager
async def counted_sender(
    sessions: async_sessionmaker[AsyncSession], channel: str, settings: SenderSettings
) -> AsyncIterator[tuple[Sender, Counted]]:
    provider = Counted(build_providers(settings, MemoryBus(), sessions)[channel])
    # the breaker's clock is the wall clock time-machine moves
    sender = Sender(sessions, {channel: provider}, mediator(), settings, clock=time.time)
    try:
        yield sender, provider
    finally:
        await provider.close()


async def minutes(traveller: Any, sender: Sender, count: int) -> None:
    for _ in range(count):
        traveller.shift(MINUTE_S)
        await sender.run_once()
        await sender.recorder.flush()


def deferrals(channel: str) -> float:
    name = "herald_sender_breaker_deferred_total"
    return REGISTRY.get_sample_value(name, {"channel": channel}) or 0.0


async def states(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, int]]:
    async with sessions() as s:
        rows = await s.execute(select(Delivery.status, Delivery.attempts))
        return [(status, attempts) for status, attempts in rows]


async def attempt_rows(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as s:
        rows = await s.execute(
            select(DeliveryAttempt.outcome, func.count()).group_by(DeliveryAttempt.outcome)
        )
        return [f"{outcome}:{n}" for outcome, n in rows.all()]


async def an_hour_down(
    sessions: async_sessionmaker[AsyncSession],
    channel: str,
    settings: SenderSettings,
    stop: Callable[[], Awaitable[object]],
    start: Callable[[], Awaitable[object]],
) -> Counted:
    deferred_before = deferrals(channel)
    with time_machine.travel(START, tick=False) as traveller:
        await seed(sessions, [f"u-{i}" for i in range(PEOPLE)], (channel,))
        async with sessions() as s, s.begin():
            await s.execute(update(Recipient).values(phone="+79161234567"))
        await stop()
        async with counted_sender(sessions, channel, settings) as (sender, provider):
            await minutes(traveller, sender, 60)
            assert await states(sessions) == [("PENDING", 0)] * PEOPLE  # nothing spent
            assert sender.breakers[channel].state is State.OPEN
            assert deferrals(channel) - deferred_before >= PEOPLE
            assert await attempt_rows(sessions) == []
            # the first batch, then one probe a minute — not every delivery every minute
            assert provider.calls <= PEOPLE + 60
            await start()
            await minutes(traveller, sender, 2)  # the probe succeeds; the rest follow
            assert sender.breakers[channel].state is State.CLOSED
    assert await states(sessions) == [("SENT", 1)] * PEOPLE
    assert await attempt_rows(sessions) == [f"sent:{PEOPLE}"]
    return provider


async def test_an_hour_without_the_sms_gateway(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    gateway = await SmsGateway().start()
    port = gateway.port
    settings = sender_settings(
        database_url, sms_gateway_url=gateway.url, sms_gateway_token=TOKEN, **BREAKER
    )
    await an_hour_down(sessions, "sms", settings, gateway.stop, lambda: gateway.start(port))
    await gateway.stop()
    ids = [body["id"] for body in gateway.received]
    assert len(ids) == len(set(ids)) == PEOPLE  # each once


async def test_an_hour_without_the_smtp_server(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sink = await SmtpSink().start()
    settings = sender_settings(
        database_url, smtp_host="127.0.0.1", smtp_port=sink.port, smtp_timeout_s=2, **BREAKER
    )

    async def start() -> None:
        await sink.start()

    await an_hour_down(sessions, "email", settings, sink.stop, start)
    await sink.stop()
    ids = sink.message_ids()
    assert len(ids) == len(set(ids)) == PEOPLE
