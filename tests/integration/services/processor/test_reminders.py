"""Deadline reminders (DESIGN §5.2) on real PostgreSQL, with time-machine for the clock:
scheduled at the moment in the subscriber's zone, moved by a date change, cancelled when the
entity stops matching, sent once through the normal pipeline — across processor restarts,
a crash mid-send and two processors at once — and checked by the sender at send time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import make_engine, make_sessionmaker
from libs.common.db.migrate import upgrade_async
from libs.common.db.models import Delivery, Event, Notification, Reminder, Subscription
from libs.common.schemas.permissions import PermissionAnswer, PermissionItem
from services.processor import reminder_firing
from services.processor.worker import Processor
from services.sender.providers.outbox import OutboxProvider
from services.sender.worker import Sender
from tests.integration.services.processor.support import add, event, person, processor, store
from tests.integration.services.sender.support import mediator, sender_settings

REMIND = {"field": "deadline", "days_before": 7}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def remark(entity_id: str, when: str, **attributes: Any) -> dict[str, Any]:
    attrs = {"section": "basement", **attributes}
    return event(type="remark.changed", occurred_at=f"{when}Z", recipients={},
                 entity={"type": "remark", "id": entity_id, "attributes": attrs})  # fmt: skip


async def _setup(sessions: async_sessionmaker[AsyncSession]) -> int:
    await add(sessions, person("u-ann", timezone="Europe/Moscow"))
    sub = Subscription(
        tenant="default", user_id="u-ann", name="basement remarks", source="tenders",
        entity_type="remark", filter=[{"field": "section", "op": "eq", "value": "basement"}],
        channels=["email", "browser"], remind=REMIND,
    )  # fmt: skip
    await add(sessions, sub)
    return sub.id


async def _process(
    worker: Processor, sessions: async_sessionmaker[AsyncSession], body: Any
) -> None:
    with time_machine.travel(at(body["occurred_at"].removesuffix("Z")), tick=False):
        assert await worker.process_ids([await store(sessions, body)]) == 1


async def _reminder(sessions: async_sessionmaker[AsyncSession], entity_id: str) -> Reminder:
    async with sessions() as session:
        found = await session.scalar(select(Reminder).where(Reminder.entity_id == entity_id))
    assert found is not None
    return found


async def _fire(worker: Processor, when: str) -> int:
    with time_machine.travel(at(when), tick=False):
        return await worker.fire_reminders()


async def _reminded(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, str]]:
    """(user, event type, entity) of every reminder notification."""
    async with sessions() as session:
        rows = await session.execute(
            select(Notification.user_id, Notification.type, Notification.entity_id).where(
                Notification.reason.like("reminder:%")
            )
        )
        return sorted(tuple(r) for r in rows.all())  # type: ignore[misc]


async def test_a_reminder_moves_with_its_date_and_is_sent_once_across_a_restart(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    sub_id = await _setup(sessions)
    worker = await processor(sessions, database_url)
    await _process(worker, sessions, remark("R-1", "2026-11-20T10:00:00", deadline="2026-12-05"))
    first = await _reminder(sessions, "R-1")
    # seven days before, at 09:00 in Moscow (UTC+3)
    assert (first.status, first.fire_at, first.due) == (
        "scheduled",
        at("2026-11-28T06:00"),
        "2026-12-05",
    )
    await _process(worker, sessions, remark("R-1", "2026-11-21T10:00:00", deadline="2026-12-10"))
    moved = await _reminder(sessions, "R-1")
    assert (moved.status, moved.fire_at) == ("scheduled", at("2026-12-03T06:00"))
    assert await _fire(worker, "2026-11-28T07:00") == 0  # the old moment: nothing is due

    restarted = await processor(sessions, database_url)  # state lives in the database
    assert await _fire(restarted, "2026-12-03T06:00:01") == 1
    assert await _fire(restarted, "2026-12-04T06:00") == 0  # once
    assert await _reminded(sessions) == [("u-ann", "reminder.due", "R-1")]
    sent = await _reminder(sessions, "R-1")
    assert sent.status == "sent" and sent.notification_id is not None
    async with sessions() as session:
        note = await session.get(Notification, sent.notification_id)
        assert note is not None and note.reason == f"reminder:{sub_id}"
        deliveries = (await session.scalars(
            select(Delivery).where(Delivery.notification_id == note.id)
        )).all()  # fmt: skip
        fired = await session.get(Event, note.event_id)
    assert sorted((d.channel, d.status) for d in deliveries) == [
        ("browser", "PENDING"), ("email", "PENDING"),
    ]  # fmt: skip
    assert fired is not None and fired.body is not None
    assert fired.body["payload"]["reminder"]["due"] == "2026-12-10"
    assert fired.body["entity"]["attributes"]["deadline"] == "2026-12-10"
    # the same date again later: already reminded, nothing new
    await _process(worker, sessions, remark("R-1", "2026-12-04T10:00:00", deadline="2026-12-10"))
    assert (await _reminder(sessions, "R-1")).status == "sent"


async def test_a_reminder_is_cancelled_when_the_entity_stops_matching(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await _setup(sessions)
    worker = await processor(sessions, database_url)
    await _process(worker, sessions, remark("R-2", "2026-11-20T10:00:00", deadline="2026-12-05"))
    await _process(worker, sessions, remark("R-2", "2026-11-22T10:00:00", deadline="2026-12-05",
                                            section="roof"))  # fmt: skip
    cancelled = await _reminder(sessions, "R-2")
    assert cancelled.status == "cancelled" and "no longer matches" in cancelled.reason
    # an older event processed late does not bring it back
    await _process(worker, sessions, remark("R-2", "2026-11-21T10:00:00", deadline="2026-12-05"))
    assert (await _reminder(sessions, "R-2")).status == "cancelled"
    assert await _fire(worker, "2026-11-28T06:30") == 0
    assert await _reminded(sessions) == []
    # a date already too close when it comes: nothing to remind of at a passed moment
    await _process(worker, sessions, remark("R-3", "2026-12-01T10:00:00", deadline="2026-12-05"))
    late = await _reminder(sessions, "R-3")
    assert late.status == "cancelled" and "had passed" in late.reason


async def test_a_crash_mid_send_leaves_it_for_the_next_processor_and_two_send_it_once(
    sessions: async_sessionmaker[AsyncSession], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _setup(sessions)
    worker = await processor(sessions, database_url)
    for i in range(3):
        body = remark(f"R-{i}", "2026-11-20T10:00:00", deadline="2026-12-05")
        await _process(worker, sessions, body)

    async def crash(*_: Any) -> None:
        raise RuntimeError("killed after writing the notifications")

    monkeypatch.setattr(reminder_firing, "_settle", crash)
    with pytest.raises(RuntimeError):
        await _fire(worker, "2026-11-28T06:00")
    assert await _reminded(sessions) == []  # rolled back whole: nothing half-sent
    assert {(await _reminder(sessions, f"R-{i}")).status for i in range(3)} == {"scheduled"}
    monkeypatch.undo()

    others = [await processor(sessions, database_url) for _ in range(2)]
    with time_machine.travel(at("2026-11-28T06:00"), tick=False):
        done = await asyncio.gather(*(w.fire_reminders() for w in others))
    assert sum(done) == 3
    assert await _reminded(sessions) == [("u-ann", "reminder.due", f"R-{i}") for i in range(3)]


async def test_the_sender_checks_the_permission_when_the_reminder_goes_out(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    await _setup(sessions)
    worker = await processor(sessions, database_url)
    await _process(worker, sessions, remark("R-9", "2026-11-20T10:00:00", deadline="2026-12-05"))
    async with sessions() as session:  # the event's own notifications are not under test
        for d in (await session.scalars(select(Delivery))).all():
            d.status = "SKIPPED"
        await session.commit()
    assert await _fire(worker, "2026-11-28T06:00") == 1

    def revoked(item: PermissionItem) -> PermissionAnswer:
        return PermissionAnswer(read=item.object_id != "R-9")

    outbox = OutboxProvider(tmp_path, "n@herald.test")
    await outbox.start()
    sender = Sender(sessions, {"email": outbox}, mediator(revoked), sender_settings(database_url))
    await sender.run_once()
    await sender.recorder.flush()
    async with sessions() as session:
        email = await session.scalar(
            select(Delivery).where(Delivery.channel == "email", Delivery.status != "SKIPPED")
        )
    assert email is not None and email.status == "DENIED"
    assert list(tmp_path.glob("*.eml")) == []


async def test_the_embedded_database_keeps_and_sends_reminders_too(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        await _setup(sessions)
        worker = await processor(sessions, url)
        body = remark("R-1", "2026-11-20T10:00:00", deadline="2026-12-05")
        await _process(worker, sessions, body)
        await _process(
            worker, sessions, {**body, "id": "again", "occurred_at": "2026-11-21T10:00:00Z"}
        )
        assert (await _reminder(sessions, "R-1")).fire_at.replace(tzinfo=UTC) == at(
            "2026-11-28T06:00"
        )
        assert await _fire(worker, "2026-11-28T06:00") == 1
        assert await _fire(worker, "2026-11-29T06:00") == 0
        assert await _reminded(sessions) == [("u-ann", "reminder.due", "R-1")]
    finally:
        await engine.dispose()
