"""SMS through the sender against a real local HTTP gateway (aiohttp on port 0)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus.memory import MemoryBus
from libs.common.db.models import Delivery, Recipient, utcnow
from services.sender.channels import build_providers
from services.sender.providers.sms import SmsGatewayProvider, delivery_key
from services.sender.settings import SenderSettings
from services.sender.worker import Sender
from tests.integration.services.sender.sms_gateway import TOKEN, Answer, SmsGateway
from tests.integration.services.sender.support import mediator, seed, sender_settings

PHONE = "+79161234567"


@pytest.fixture
async def gateway() -> AsyncIterator[SmsGateway]:
    server = await SmsGateway().start()
    yield server
    await server.stop()


def sms_settings(database_url: str, gateway: SmsGateway, **over: Any) -> SenderSettings:
    values = {"sms_gateway_url": gateway.url, "sms_gateway_token": TOKEN, **over}
    return sender_settings(database_url, **values)


@asynccontextmanager
async def sms_sender(
    database_url: str, sessions: async_sessionmaker[AsyncSession], gateway: SmsGateway, **over: Any
) -> AsyncIterator[Sender]:
    settings = sms_settings(database_url, gateway, **over)
    providers = build_providers(settings, MemoryBus(), sessions)  # the registry's factory
    sms = providers["sms"]
    assert isinstance(sms, SmsGatewayProvider)
    await sms.start()
    try:
        yield Sender(sessions, providers, mediator(), settings)
    finally:
        await sms.close()


async def seed_sms(sessions: async_sessionmaker[AsyncSession], users: list[str]) -> list[int]:
    ids = await seed(sessions, users, ("sms",))
    async with sessions() as s, s.begin():
        await s.execute(update(Recipient).values(phone=PHONE))
    return ids


async def round_(sender: Sender) -> int:
    claimed = await sender.run_once()
    await sender.recorder.flush()
    return claimed


async def row(sessions: async_sessionmaker[AsyncSession], delivery_id: int) -> Delivery:
    async with sessions() as s:
        found = await s.get(Delivery, delivery_id)
        assert found is not None
        return found


async def due_now(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        await s.execute(update(Delivery).values(next_attempt_at=utcnow()))


async def test_sent_with_bearer_token_and_a_stable_id(
    database_url: str, sessions: async_sessionmaker[AsyncSession], gateway: SmsGateway
) -> None:
    gateway.script = [Answer(503)]  # the same id on the retry: the gateway can drop a repeat
    (delivery_id,) = await seed_sms(sessions, ["u-1"])
    async with sms_sender(database_url, sessions, gateway) as sender:
        await round_(sender)
        await due_now(sessions)
        await round_(sender)
    first, second = (body for body, _auth in gateway.requests)
    assert (
        first
        == second
        == {
            "to": PHONE,
            "text": "Tender T-1001: deadline moved\nThe deadline is now 5 December.",
            "id": delivery_key(delivery_id),
        }
    )
    assert {auth for _b, auth in gateway.requests} == {f"Bearer {TOKEN}"}
    sent = await row(sessions, delivery_id)
    assert sent.status == "SENT" and sent.provider_message_id == f"gw-herald-{delivery_id}"


async def test_5xx_retries_4xx_fails_429_pauses_the_gateway_for_its_retry_after(
    database_url: str, sessions: async_sessionmaker[AsyncSession], gateway: SmsGateway
) -> None:
    gateway.script = [
        Answer(500, {"error": "oops"}),
        Answer(400, {"error": "bad number"}),
        Answer(429, {"error": "slow down"}, {"Retry-After": "120"}),
    ]
    ids = await seed_sms(sessions, ["u-1", "u-2", "u-3", "u-4"])
    async with sms_sender(database_url, sessions, gateway, sender_batch=1) as sender:
        for _ in range(4):
            await round_(sender)
    rows = [await row(sessions, i) for i in ids]
    by_error = {(r.last_error or "")[:16]: r for r in rows}
    retried, failed = by_error["SMS gateway 500:"], by_error["SMS gateway 400:"]
    assert retried.status == "PENDING" and failed.status == "FAILED"
    assert "bad number" in (failed.last_error or "")
    waited, paused = by_error["SMS gateway 429:"], by_error["SMS gateway rate"]
    assert waited.status == "PENDING" and waited.next_attempt_at is not None
    wait = waited.next_attempt_at - utcnow()
    assert timedelta(seconds=110) < wait <= timedelta(seconds=120)  # the gateway's word
    # the next one is not even tried while the gateway asked for quiet, and spends nothing
    assert paused.status == "PENDING" and paused.attempts == 0
    assert len(gateway.requests) == 3


async def test_a_long_text_is_cut_to_the_segment_budget(
    database_url: str, sessions: async_sessionmaker[AsyncSession], gateway: SmsGateway
) -> None:
    await seed_sms(sessions, ["u-1"])
    async with sessions() as s, s.begin():
        await s.execute(update(Delivery).values(subject="", body="Срок сдвинут. " * 40))
    async with sms_sender(database_url, sessions, gateway, sms_max_segments=2) as sender:
        await round_(sender)
    text = gateway.received[0]["text"]
    assert len(text) == 2 * 67 and text.endswith("…")  # UCS-2: 67 characters a segment


async def test_the_gateway_rate_limit_defers_without_spending_attempts(
    database_url: str, sessions: async_sessionmaker[AsyncSession], gateway: SmsGateway
) -> None:
    ids = await seed_sms(sessions, [f"u-{i}" for i in range(4)])
    async with sms_sender(database_url, sessions, gateway, sms_rate_per_s=1.0) as sender:
        await round_(sender)  # one now, one after a second's sleep, the rest deferred
    rows = [await row(sessions, i) for i in ids]
    assert sorted(r.status for r in rows) == ["PENDING", "PENDING", "SENT", "SENT"]
    assert len(gateway.requests) == 2
    deferred = [r for r in rows if r.status == "PENDING"]
    assert all(r.attempts == 0 and "rate limit" in (r.last_error or "") for r in deferred)
