"""Claiming: SKIP LOCKED between senders, leases, guarded outcomes."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Delivery, DeliveryAttempt, utcnow
from services.sender.claim import claim_due
from services.sender.outcome import record, retry, sent
from services.sender.providers.email_smtp import SmtpProvider
from services.sender.worker import Sender
from tests.apps import eventually
from tests.integration.services.sender.support import SmtpSink, mediator, seed, sender_settings

LEASE_S = 60.0


async def test_open_claims_skip_each_others_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await seed(sessions, [f"u-{i}" for i in range(25)])
    async with transaction(sessions) as first:
        a = await claim_due(first, 10, LEASE_S, 8)
        async with transaction(sessions) as second:  # while the first still holds its locks
            b = await claim_due(second, 10, LEASE_S, 8)
            c = await claim_due(second, 10, LEASE_S, 8)
    claimed = [x.id for x in a + b + c]
    assert len(claimed) == len(set(claimed)) == 25
    assert sorted(claimed) == sorted(ids)
    assert {x.attempts for x in a + b + c} == {1}


async def test_two_senders_racing_never_send_one_delivery_twice(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await seed(sessions, [f"u-{i}" for i in range(200)])
    sinks = [await SmtpSink(delay_s=0.002).start() for _ in range(2)]
    senders = []
    for sink in sinks:
        settings = sender_settings(
            database_url, smtp_host="127.0.0.1", smtp_port=sink.port, sender_batch=10
        )
        senders.append(Sender(sessions, {"email": SmtpProvider(settings)}, mediator(), settings))
    loops = [asyncio.create_task(s.run_forever()) for s in senders]

    async def all_sent() -> bool:
        async with sessions() as session:
            statuses = set((await session.scalars(select(Delivery.status))).all())
        return statuses == {"SENT"}

    await eventually(all_sent, timeout_s=60)
    for s in senders:
        s.stop()
    await asyncio.gather(*loops)
    for sink in sinks:
        await sink.stop()

    got = [sink.message_ids() for sink in sinks]
    assert all(got), "both senders took part"
    everything = Counter(got[0] + got[1])
    assert set(everything.values()) == {1}
    assert sorted(everything) == sorted(f"<delivery-{i}@localhost>" for i in ids)
    async with sessions() as session:
        attempts = (
            await session.execute(select(DeliveryAttempt.attempt, DeliveryAttempt.outcome))
        ).all()
    assert len(attempts) == len(ids) and set(attempts) == {(1, "sent")}


async def expire_leases(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as session:
        await session.execute(update(Delivery).values(locked_until=utcnow() - timedelta(seconds=1)))


async def test_a_late_worker_never_overwrites_a_reclaimed_delivery(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    [one] = await seed(sessions, ["u-1"])
    async with transaction(sessions) as session:
        [slow] = await claim_due(session, 10, LEASE_S, 8)
    await expire_leases(sessions)  # the slow worker outlived its lease
    async with transaction(sessions) as session:
        [again] = await claim_due(session, 10, LEASE_S, 8)
    assert (slow.attempts, again.attempts) == (1, 2)
    async with transaction(sessions) as session:
        await record(session, [sent(again, "<m-2>")])
    async with transaction(sessions) as session:
        await record(session, [retry(slow, "SMTP 451 late answer", 8)])
    async with sessions() as session:
        row = await session.get(Delivery, one)
        assert row is not None
        assert (row.status, row.attempts, row.provider_message_id) == ("SENT", 2, "<m-2>")
        trail = (
            await session.scalars(select(DeliveryAttempt.outcome).order_by(DeliveryAttempt.id))
        ).all()
    assert trail == ["sent", "retry"]  # both attempts really happened; both are on record


async def test_a_delivery_whose_lease_keeps_expiring_fails_after_max_attempts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    [one] = await seed(sessions, ["u-1"])
    for _ in range(3):
        async with transaction(sessions) as session:
            assert len(await claim_due(session, 10, LEASE_S, 3)) == 1
        await expire_leases(sessions)  # the sender died mid-send, again
    async with transaction(sessions) as session:
        assert await claim_due(session, 10, LEASE_S, 3) == []
    async with sessions() as session:
        row = await session.get(Delivery, one)
        assert row is not None
        assert row.status == "FAILED" and "lease expired" in (row.last_error or "")
