"""Who sets ``notifications.access`` (the inbox shows only ``allowed``): the send-time check of
a notification's delivery, and the visibility checker for notifications nobody sends at once
(digest only, skipped, no channel). Each newly visible item nudges the user's counters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus, Message, QueueSpec, make_bus
from libs.common.bus.topology import BROWSER_EXCHANGE
from libs.common.db.models import Notification, utcnow
from libs.common.inbox.access import ALLOWED, DENIED, question
from libs.common.schemas.inbox import BrowserPush
from services.sender.providers.outbox import OutboxProvider
from services.sender.visibility import VisibilityChecker, VisibilitySettings
from services.sender.worker import Sender
from tests.apps import eventually
from tests.integration.services.sender.support import MediatorCalls, mediator, seed, sender_settings
from tests.integration.services.sender.test_permission import by_user

CHECK_NOW = VisibilitySettings(visibility_grace_s=0)


@pytest.fixture
async def bus() -> AsyncIterator[Bus]:
    b = make_bus(f"memory://{uuid.uuid4().hex}")
    await b.connect()
    yield b
    await b.close()


async def _pushes(bus: Bus) -> list[BrowserPush]:
    got: list[BrowserPush] = []

    async def collect(message: Message) -> None:
        got.append(BrowserPush.model_validate_json(message.body))

    spec = QueueSpec(f"test.browser.{uuid.uuid4().hex}", [(BROWSER_EXCHANGE, "")], False)
    await bus.consume(spec, collect, 10)
    return got


async def access_of(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str | None]:
    async with sessions() as session:
        rows = await session.execute(select(Notification.user_id, Notification.access))
        return dict(rows.all())


async def test_the_checker_decides_unchecked_notifications_in_one_mediator_batch(
    database_url: str, sessions: async_sessionmaker[AsyncSession], bus: Bus
) -> None:
    await seed(sessions, ["u-ok", "u-denied", "u-unknown"], channels=())  # no delivery at all
    calls = MediatorCalls()
    pushes = await _pushes(bus)
    checker = VisibilityChecker(sessions, bus, mediator(by_user, calls), CHECK_NOW)
    assert await checker.run_once() == 3
    assert len(calls.batches) == 1 and len(calls.batches[0].items) == 3
    assert await access_of(sessions) == {"u-ok": ALLOWED, "u-denied": DENIED, "u-unknown": None}

    async def nudged() -> bool:
        return bool(pushes)

    await eventually(nudged)
    [push] = pushes
    assert (push.kind, push.user_id) == ("counts", "u-ok")
    assert push.counts is not None and push.counts.total == 1
    async with sessions() as session:
        seq = await session.scalar(
            select(Notification.user_seq).where(Notification.user_id == "u-ok")
        )
    assert seq == 1, "made visible through the cursor's reveal"


async def test_the_checker_waits_for_the_sender_and_leaves_decided_ones_alone(
    database_url: str, sessions: async_sessionmaker[AsyncSession], bus: Bus
) -> None:
    await seed(sessions, ["u-fresh", "u-was-allowed", "u-was-denied"], channels=())
    async with sessions() as session, session.begin():
        for user, access in (("u-was-allowed", ALLOWED), ("u-was-denied", DENIED)):
            await session.execute(
                update(Notification).where(Notification.user_id == user).values(access=access)
            )
    calls = MediatorCalls()
    patient = VisibilityChecker(sessions, bus, mediator(calls=calls), VisibilitySettings())
    assert await patient.run_once() == 0, "a fresh notification is the sender's to check first"
    assert calls.batches == []
    async with sessions() as session, session.begin():
        await session.execute(
            update(Notification).values(created_at=utcnow() - timedelta(minutes=1))
        )
    assert await patient.run_once() == 1
    assert await access_of(sessions) == {
        "u-fresh": ALLOWED,
        "u-was-allowed": ALLOWED,
        "u-was-denied": DENIED,
    }


async def test_two_checkers_never_take_the_same_notification(
    database_url: str, sessions: async_sessionmaker[AsyncSession], bus: Bus
) -> None:
    await seed(sessions, ["u-held", "u-free"], channels=())
    calls = MediatorCalls()
    checker = VisibilityChecker(sessions, bus, mediator(calls=calls), CHECK_NOW)
    async with sessions() as other, other.begin():  # another checker holds u-held's row
        await other.execute(
            text("SELECT id FROM notifications WHERE user_id = 'u-held' FOR UPDATE")
        )
        assert await asyncio.wait_for(checker.run_once(), 5) == 1
    assert [i.user_id for i in calls.batches[0].items] == ["u-free"]
    assert await access_of(sessions) == {"u-held": None, "u-free": ALLOWED}


async def test_the_send_time_check_sets_access_before_anything_is_sent(
    database_url: str, sessions: async_sessionmaker[AsyncSession], bus: Bus, tmp_path: Path
) -> None:
    await seed(sessions, ["u-ok", "u-denied", "u-unknown"], ("email",))
    pushes = await _pushes(bus)
    outbox = OutboxProvider(tmp_path, "n@herald.test")
    await outbox.start()
    settings = sender_settings(database_url)
    sender = Sender(sessions, {"email": outbox}, mediator(by_user), settings, bus=bus)
    await sender.run_once()
    await sender.recorder.flush()
    assert await access_of(sessions) == {"u-ok": ALLOWED, "u-denied": DENIED, "u-unknown": None}

    async def nudged() -> bool:
        return bool(pushes)

    await eventually(nudged)
    assert [(p.kind, p.user_id) for p in pushes] == [("counts", "u-ok")]


async def test_a_later_denial_at_send_time_hides_an_item_already_visible(
    database_url: str, sessions: async_sessionmaker[AsyncSession], bus: Bus, tmp_path: Path
) -> None:
    await seed(sessions, ["u-denied"], ("email",))
    async with sessions() as session, session.begin():
        await session.execute(update(Notification).values(access=ALLOWED))
    outbox = OutboxProvider(tmp_path, "n@herald.test")
    await outbox.start()
    sender = Sender(sessions, {"email": outbox}, mediator(by_user), sender_settings(database_url))
    await sender.run_once()
    assert await access_of(sessions) == {"u-denied": DENIED}


def test_a_notification_without_an_object_needs_no_check() -> None:
    assert question("tenders", None, "", "", "u-1") is None
    item = question("tenders", "P-1", "tender", "T-1", "u-1")
    assert item is not None and (item.module, item.object_id) == ("tenders", "T-1")
    with pytest.raises(ValueError):
        question("m" * 100, None, "tender", "T-1", "u-1")
