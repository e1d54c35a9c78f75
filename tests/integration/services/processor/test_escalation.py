"""Escalation chains (issue 17, DESIGN §6) on real PostgreSQL, with time-machine for the clock:
a critical notification left unread is sent on each step's channel at its delay, once per
step, through a delivery the sender claims (the permission re-checked at send time); reading
or archiving it stops the chain; a restart, a crash mid-step and two processors at once
neither lose nor repeat a step."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import make_engine, make_sessionmaker
from libs.common.db.migrate import upgrade_async
from libs.common.db.models import Delivery, Escalation, EventType, Notification
from libs.common.schemas.permissions import PermissionAnswer, PermissionItem
from services.processor import escalation_firing
from services.processor.worker import Processor
from services.sender.providers.outbox import OutboxProvider
from services.sender.worker import Sender
from tests.integration.services.processor.support import add, event, person, processor, store
from tests.integration.services.sender.support import mediator, sender_settings

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
CHAIN = [
    {"channel": "browser", "after_minutes": 0},
    {"channel": "email", "after_minutes": 10},
    {"channel": "telegram", "after_minutes": 30},
    {"channel": "sms", "after_minutes": 60},
]


async def _setup(sessions: async_sessionmaker[AsyncSession], *users: str) -> None:
    await add(
        sessions,
        *(person(u, telegram_chat_id=f"{100 + i}") for i, u in enumerate(users)),  # no phone
        EventType(
            key="tenders.tender.requirement_added", source="tenders",
            default_channels=["browser"], escalation=CHAIN,
        ),
    )  # fmt: skip


async def _process(
    worker: Processor, sessions: async_sessionmaker[AsyncSession], *users: str, **over: Any
) -> str:
    body = event(priority="critical", recipients={"assignee": list(users)}, **over)
    event_id = await store(sessions, body)
    with time_machine.travel(T0, tick=False):
        assert await worker.process_ids([event_id]) == 1
    return event_id


async def _fire(worker: Processor, minutes: float) -> int:
    with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
        return await worker.fire_escalations()


async def _steps(
    sessions: async_sessionmaker[AsyncSession], user: str = "u-ann"
) -> list[tuple[int, str, str, str]]:
    """(step, channel, status, reason) of the user's escalation steps."""
    async with sessions() as session:
        found = await session.execute(
            select(Escalation.step, Escalation.channel, Escalation.status, Escalation.reason)
            .join(Notification, Notification.id == Escalation.notification_id)
            .where(Notification.user_id == user)
            .order_by(Escalation.step)
        )
        return [tuple(r) for r in found.all()]  # type: ignore[misc]


async def _live(
    sessions: async_sessionmaker[AsyncSession], user: str = "u-ann"
) -> list[tuple[str, str]]:
    """(channel, status) of the user's deliveries that are not SKIPPED, sorted."""
    async with sessions() as session:
        found = await session.execute(
            select(Delivery.channel, Delivery.status).where(
                Delivery.user_id == user, Delivery.status != "SKIPPED"
            )
        )
        return sorted(tuple(r) for r in found.all())  # type: ignore[misc]


def _counted(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "herald_processor_escalation_steps_total", {"outcome": outcome}
    )
    return value or 0.0


async def test_each_step_fires_at_its_delay_once(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await _setup(sessions, "u-ann")
    worker = await processor(sessions, database_url)
    await _process(worker, sessions, "u-ann")
    planned = await _steps(sessions)
    assert [(s, ch, st) for s, ch, st, _ in planned] == [
        (1, "browser", "planned"), (2, "email", "planned"),
        (3, "telegram", "planned"), (4, "sms", "planned"),
    ]  # fmt: skip
    async with sessions() as session:
        fire_at = (await session.scalars(select(Escalation.fire_at).order_by("step"))).all()
    assert fire_at == [T0 + timedelta(minutes=m) for m in (0, 10, 30, 60)]
    assert await _live(sessions) == [("browser", "PENDING")]
    sent_before, skipped_before = _counted("sent"), _counted("skipped")

    assert await _fire(worker, 0.1) == 1  # the browser: already delivered at once
    assert await _fire(worker, 9.9) == 0
    assert await _fire(worker, 10) == 1
    assert await _live(sessions) == [("browser", "PENDING"), ("email", "PENDING")]
    assert await _fire(worker, 12) == 0  # once
    assert await _fire(worker, 30) == 1
    assert await _fire(worker, 61) == 1  # sms: no phone, skipped
    assert await _fire(worker, 600) == 0
    assert await _live(sessions) == [
        ("browser", "PENDING"), ("email", "PENDING"), ("telegram", "PENDING"),
    ]  # fmt: skip
    steps = await _steps(sessions)
    assert [(ch, st) for _, ch, st, _ in steps] == [
        ("browser", "skipped"), ("email", "sent"), ("telegram", "sent"), ("sms", "skipped"),
    ]  # fmt: skip
    assert "already" in steps[0][3]
    assert "no phone number" in steps[3][3]
    async with sessions() as session:
        email = await session.scalar(select(Delivery).where(Delivery.channel == "email"))
        step = await session.scalar(select(Escalation).where(Escalation.channel == "email"))
    assert email is not None and step is not None and step.delivery_id == email.id
    assert email.reason.startswith("escalation step 2")
    assert email.subject  # rendered from the e-mail template, not the inbox text
    assert _counted("sent") - sent_before == 2
    assert _counted("skipped") - skipped_before == 2


async def test_reading_or_archiving_stops_the_chain(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await _setup(sessions, "u-ann", "u-bob")
    worker = await processor(sessions, database_url)
    await _process(worker, sessions, "u-ann", "u-bob")
    assert await _fire(worker, 10) == 4  # browser and e-mail steps of both
    stopped_before = _counted("stopped")
    async with sessions() as session:
        read = T0 + timedelta(minutes=20)
        await session.execute(
            update(Notification).where(Notification.user_id == "u-ann").values(read_at=read)
        )
        await session.execute(
            update(Notification).where(Notification.user_id == "u-bob").values(archived_at=read)
        )
        await session.commit()
    assert await _fire(worker, 30) == 2  # each chain's next step finds it read: all stopped
    assert await _fire(worker, 120) == 0
    for user, why in (("u-ann", "read"), ("u-bob", "archived")):
        steps = await _steps(sessions, user)
        assert [st for _, _, st, _ in steps] == ["skipped", "sent", "stopped", "stopped"]
        assert all(why in reason for _, _, st, reason in steps if st == "stopped")
        assert await _live(sessions, user) == [("browser", "PENDING"), ("email", "PENDING")]
    assert _counted("stopped") - stopped_before == 4


async def test_not_critical_means_no_chain(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await _setup(sessions, "u-ann")
    worker = await processor(sessions, database_url)
    body = event(priority="normal", recipients={"assignee": ["u-ann"]})
    event_id = await store(sessions, body)
    with time_machine.travel(T0, tick=False):
        assert await worker.process_ids([event_id]) == 1
    assert await _steps(sessions) == []
    assert await _fire(worker, 120) == 0


async def test_a_restart_and_a_crash_mid_step_neither_lose_nor_repeat_a_step(
    sessions: async_sessionmaker[AsyncSession], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _setup(sessions, "u-ann")
    worker = await processor(sessions, database_url)
    await _process(worker, sessions, "u-ann")
    assert await _fire(worker, 10) == 2

    async def crash(*_: Any) -> None:
        raise RuntimeError("killed after writing the delivery")

    restarted = await processor(sessions, database_url)  # state lives in the database
    monkeypatch.setattr(escalation_firing, "_settle", crash)
    with pytest.raises(RuntimeError):
        await _fire(restarted, 30)
    assert await _live(sessions) == [("browser", "PENDING"), ("email", "PENDING")]
    assert [st for _, _, st, _ in await _steps(sessions)][2] == "planned"  # rolled back whole
    monkeypatch.undo()

    again = await processor(sessions, database_url)
    assert await _fire(again, 31) == 1
    assert await _fire(again, 32) == 0
    assert await _live(sessions) == [
        ("browser", "PENDING"), ("email", "PENDING"), ("telegram", "PENDING"),
    ]  # fmt: skip


async def test_two_escalators_at_once_send_each_step_once(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    users = [f"r-{i}" for i in range(12)]  # the event's actor, u-7, is not notified
    await _setup(sessions, *users)
    first = await processor(sessions, database_url, processor_escalation_batch=2)
    await _process(first, sessions, *users)
    second = await processor(sessions, database_url, processor_escalation_batch=2)
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        done = await asyncio.gather(first.fire_escalations(), second.fire_escalations())
        assert all(done)  # both took a share
        # a batch that found rows locked by the other ends a loop early: the next interval
        # (here: one more call) takes what is left
        left = await first.fire_escalations()
    assert sum(done) + left == 3 * len(users)  # browser, e-mail and Telegram steps, each once
    async with sessions() as session:
        found = await session.execute(
            select(Delivery.user_id, Delivery.channel).where(Delivery.status != "SKIPPED")
        )
        live = sorted(tuple(r) for r in found.all())
    assert live == sorted((u, ch) for u in users for ch in ("browser", "email", "telegram"))


async def test_the_sender_checks_the_permission_when_a_step_goes_out(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    await _setup(sessions, "u-ann", "u-bob")
    worker = await processor(sessions, database_url)
    await _process(worker, sessions, "u-ann", "u-bob")
    assert await _fire(worker, 0) == 2  # the browser steps: delivered at once
    async with sessions() as session:  # the event's own browser deliveries are not under test
        await session.execute(update(Delivery).values(status="SKIPPED"))
        await session.commit()
    assert await _fire(worker, 10) == 2

    def revoked(item: PermissionItem) -> PermissionAnswer:
        return PermissionAnswer(read=item.user_id != "u-ann")

    outbox = OutboxProvider(tmp_path, "n@herald.test")
    await outbox.start()
    sender = Sender(sessions, {"email": outbox}, mediator(revoked), sender_settings(database_url))
    await sender.run_once()
    await sender.recorder.flush()
    assert await _live(sessions, "u-ann") == [("email", "DENIED")]
    assert await _live(sessions, "u-bob") == [("email", "SENT")]
    mails = [p.read_text() for p in tmp_path.glob("*.eml")]
    assert len(mails) == 1 and "u-bob@example.com" in mails[0]


async def test_the_embedded_database_escalates_too(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        await _setup(sessions, "u-ann")
        worker = await processor(sessions, url)
        await _process(worker, sessions, "u-ann")
        assert await _fire(worker, 10) == 2
        assert await _fire(worker, 11) == 0
        assert await _live(sessions) == [("browser", "PENDING"), ("email", "PENDING")]
        assert [st for _, _, st, _ in await _steps(sessions)] == [
            "skipped", "sent", "planned", "planned",
        ]  # fmt: skip
    finally:
        await engine.dispose()


async def test_a_tenants_own_event_type_brings_its_own_chain(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await _setup(sessions, "u-ann")  # the global row: browser → e-mail → Telegram → SMS
    await add(
        sessions,
        EventType(
            tenant="default", key="tenders.tender.requirement_added", source="tenders",
            default_channels=["browser"], escalation=[{"channel": "telegram", "after_minutes": 5}],
        ),
    )  # fmt: skip
    worker = await processor(sessions, database_url)
    await _process(worker, sessions, "u-ann")
    assert [(s, ch, st) for s, ch, st, _ in await _steps(sessions)] == [(1, "telegram", "planned")]
    assert await _fire(worker, 5) == 1
    assert await _live(sessions) == [("browser", "PENDING"), ("telegram", "PENDING")]


async def test_a_chain_removed_from_the_event_type_stops(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await _setup(sessions, "u-ann")
    worker = await processor(sessions, database_url)
    await _process(worker, sessions, "u-ann")
    assert await _fire(worker, 10) == 2
    async with sessions() as session:  # the admin drops the Telegram and SMS steps
        await session.execute(update(EventType).values(escalation=CHAIN[:2]))
        await session.commit()
    assert await _fire(worker, 30) == 1
    steps = await _steps(sessions)
    assert [st for _, _, st, _ in steps] == ["skipped", "sent", "stopped", "stopped"]
    assert "no longer names telegram" in steps[2][3]
    assert await _live(sessions) == [("browser", "PENDING"), ("email", "PENDING")]
