"""Permission at send time: one mediator call per batch; denied, undetermined, unreachable."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery, DeliveryAttempt
from libs.common.schemas.permissions import PermissionAnswer, PermissionItem
from services.sender.providers.outbox import OutboxProvider
from services.sender.worker import Sender
from tests.integration.services.sender.support import MediatorCalls, mediator, seed, sender_settings


def by_user(item: PermissionItem) -> PermissionAnswer:
    if item.user_id == "u-denied":
        return PermissionAnswer(read=False)
    if item.user_id == "u-unknown":
        return PermissionAnswer(read=False, error="tenders backend timed out")
    return PermissionAnswer(read=True)


async def statuses(sessions: async_sessionmaker[AsyncSession]) -> dict[str, tuple[str, int]]:
    async with sessions() as session:
        rows = await session.execute(select(Delivery.user_id, Delivery.status, Delivery.attempts))
        return {user: (status, n) for user, status, n in rows.all()}


async def test_one_batch_call_and_each_answer_honoured(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await seed(sessions, ["u-ok", "u-denied", "u-unknown"], ("email", "browser"))
    calls = MediatorCalls()
    settings = sender_settings(database_url)
    outbox = OutboxProvider(tmp_path, "n@herald.test")
    await outbox.start()
    sender = Sender(sessions, {"email": outbox}, mediator(by_user, calls), settings)
    await sender.run_once()
    await sender.recorder.flush()

    # one call; the e-mail and browser deliveries of one notification ask once
    assert len(calls.batches) == 1
    assert {
        (i.module, i.object_type, i.object_id, i.project_id) for i in calls.batches[0].items
    } == {("tenders", "tender", "T-1001", "P-42")}
    assert sorted(i.user_id for i in calls.batches[0].items) == ["u-denied", "u-ok", "u-unknown"]
    async with sessions() as session:
        rows = (await session.scalars(select(Delivery).order_by(Delivery.id))).all()
    got = {(d.user_id, d.channel): d for d in rows}
    assert got["u-ok", "email"].status == "SENT"
    assert got["u-ok", "browser"].status == "FAILED"  # no browser provider in this sender
    denied = got["u-denied", "email"]
    assert denied.status == "DENIED"
    assert denied.reason == "u-denied may not read tenders/tender T-1001 (checked at send time)"
    undecided = got["u-unknown", "email"]
    assert undecided.status == "PENDING" and undecided.attempts == 1
    assert "tenders backend timed out" in (undecided.last_error or "")
    assert [p.name for p in tmp_path.glob("*.eml")] == [f"delivery-{got['u-ok', 'email'].id}.eml"]


async def test_mediator_unreachable_sends_nothing_and_spends_no_attempt(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await seed(sessions, ["u-1", "u-2"])
    outbox = OutboxProvider(tmp_path, "n@herald.test")
    await outbox.start()
    settings = sender_settings(database_url)
    sender = Sender(sessions, {"email": outbox}, mediator(down=True), settings)
    assert await sender.run_once() == 2
    await sender.recorder.flush()

    assert list(tmp_path.glob("*.eml")) == []
    assert await statuses(sessions) == {"u-1": ("PENDING", 0), "u-2": ("PENDING", 0)}
    async with sessions() as session:
        errors = set((await session.scalars(select(Delivery.last_error))).all())
        assert await session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 0
    assert len(errors) == 1 and "permission check unavailable" in str(errors.pop())
    assert await sender.run_once() == 0  # deferred a few seconds, not hammering the mediator


async def test_digest_delivery_is_not_checked_at_send_time(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    [one] = await seed(sessions, ["u-1"])
    async with sessions() as session, session.begin():
        row = await session.get(Delivery, one)
        assert row is not None
        row.notification_id = None  # a digest's own delivery
    calls = MediatorCalls()
    outbox = OutboxProvider(tmp_path, "n@herald.test")
    await outbox.start()
    sender = Sender(
        sessions, {"email": outbox}, mediator(calls=calls), sender_settings(database_url)
    )
    await sender.run_once()
    await sender.recorder.flush()
    assert calls.batches == []
    assert await statuses(sessions) == {"u-1": ("SENT", 1)}


async def test_an_object_outside_the_contract_fails_instead_of_blocking_the_batch(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    [odd, fine] = await seed(sessions, ["u-1", "u-2"])
    async with sessions() as session, session.begin():
        row = await session.get(Delivery, odd)
        assert row is not None
        row.source = "m" * 100  # the mediator contract allows module names up to 64
    outbox = OutboxProvider(tmp_path, "n@herald.test")
    await outbox.start()
    sender = Sender(sessions, {"email": outbox}, mediator(), sender_settings(database_url))
    await sender.run_once()
    await sender.recorder.flush()
    async with sessions() as session:
        rows = {d.id: d for d in (await session.scalars(select(Delivery))).all()}
    assert rows[odd].status == "FAILED" and "cannot ask the mediator" in (
        rows[odd].last_error or ""
    )
    assert rows[fine].status == "SENT"
