"""Retention of the per-user history tables (DESIGN §15): sent digests, reminders that fired or
were cancelled, escalation steps that ended and rejected messages go after their tenant's (or
the deployment's) days, in pages, with metrics — never a digest still to be sent, a reminder
still scheduled, an escalation step still planned (nor the notification it belongs to)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import (
    Delivery,
    Digest,
    Escalation,
    Event,
    Notification,
    Reminder,
    Tenant,
    utcnow,
)
from services.processor.retention import RetentionSettings, Sweeper

Sessions = async_sessionmaker[AsyncSession]
NOW = utcnow()
BATCH = 3
ACME = {"digests_days": 10, "reminders_days": 10, "escalations_days": 10, "rejected_days": 5,
        "notifications_days": 20}  # fmt: skip


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def _digest(tenant: str, age: float, tag: str, delivery: int | None) -> Digest:
    at = days_ago(age)
    return Digest(tenant=tenant, user_id=tag, channel="email", window_start=at - timedelta(days=1),
                  window_end=at, item_count=1, delivery_id=delivery, created_at=at)  # fmt: skip


def _reminder(tenant: str, age: float, status: str, tag: str, fire_in_days: float = -1) -> Reminder:
    at = days_ago(age)
    return Reminder(tenant=tenant, subscription_id=1, user_id="u-1", source="tenders",
                    entity_type="tender", entity_id=tag, due="2026-01-01", status=status,
                    fire_at=NOW + timedelta(days=fire_in_days), event_id="e", event_time=at,
                    created_at=at, updated_at=at)  # fmt: skip


async def _note(s: AsyncSession, tenant: str, age: float, tag: str) -> int:
    at = days_ago(age)
    event = Event(tenant=tenant, source="tenders", source_event_id=tag, type="t",
                  status="processed", received_at=at, body={})  # fmt: skip
    s.add(event)
    await s.flush()
    note = Notification(tenant=tenant, event_id=event.id, user_id="u-1", reason="direct:a",
                        source="tenders", type="t", entity_type="tender", entity_id=tag,
                        title=tag, body=tag, created_at=at)  # fmt: skip
    s.add(note)
    await s.flush()
    return note.id


def _step(tenant: str, note: int, step: int, status: str, age: float) -> Escalation:
    at = days_ago(age)
    return Escalation(tenant=tenant, notification_id=note, step=step, channel="sms",
                      after_minutes=10, fire_at=at, status=status, created_at=at,
                      updated_at=at)  # fmt: skip


def _rejected(tenant: str | None, age: float, tag: str) -> Event:
    return Event(tenant=tenant, status="rejected", raw=tag.encode(), error=tag,
                 received_at=days_ago(age))  # fmt: skip


async def _seed(sessions: Sessions) -> dict[str, Any]:
    async with transaction(sessions) as s:
        await s.execute(
            update(Tenant).where(Tenant.key == "acme").values(settings={"retention": ACME})
        )
        pending = Delivery(tenant="acme", user_id="u-w", source="herald", channel="email",
                           status="PENDING", created_at=days_ago(30))  # fmt: skip
        sent = Delivery(tenant="acme", user_id="u-s", source="herald", channel="email",
                        status="SENT", created_at=days_ago(30))  # fmt: skip
        s.add_all([pending, sent])
        await s.flush()
        s.add_all(
            [_digest("acme", 30, f"a-old-{n}", sent.id) for n in range(5)]
            + [_digest("acme", 30, "a-gone", None), _digest("acme", 30, "a-waiting", pending.id)]
            + [_digest("acme", 3, f"a-new-{n}", None) for n in range(2)]
            + [_digest("default", 200, f"d-old-{n}", None) for n in range(4)]
            + [_digest("default", 30, f"d-kept-{n}", None) for n in range(2)]
        )
        s.add_all(
            [_reminder("acme", 30, "sent", f"a-sent-{n}") for n in range(4)]
            + [_reminder("acme", 30, "cancelled", f"a-cancelled-{n}") for n in range(2)]
            # scheduled long ago for a date to come: still needed
            + [_reminder("acme", 30, "scheduled", f"a-due-{n}", 5) for n in range(2)]
            + [_reminder("acme", 3, "sent", "a-recent")]
            + [_reminder("default", 200, "sent", f"d-old-{n}") for n in range(3)]
            + [_reminder("default", 30, "sent", "d-kept")]
        )
        kept_note = await _note(s, "acme", 15, "a-note")  # within notifications_days (20)
        for n, status in enumerate(("sent", "skipped", "stopped", "sent")):
            s.add(_step("acme", kept_note, n + 1, status, 30 if n < 3 else 3))
        # old enough to go (30 > 20 days), but a step is still planned: it stays with that step
        planned_note = await _note(s, "acme", 30, "a-planned")
        s.add(_step("acme", planned_note, 1, "sent", 30))
        s.add(_step("acme", planned_note, 2, "planned", 30))
        await _note(s, "acme", 30, "a-plain")  # the control: the same without a plan goes
        default_note = await _note(s, "default", 30, "d-note")
        s.add(_step("default", default_note, 1, "sent", 200))
        s.add(_step("default", default_note, 2, "skipped", 30))
        s.add_all(
            [_rejected("acme", 10, f"r-acme-old-{n}") for n in range(4)]
            + [_rejected("acme", 2, "r-acme-new"), _rejected("default", 10, "r-default-10"),
               _rejected("default", 40, "r-default-40"), _rejected(None, 40, "r-none-40"),
               _rejected(None, 10, "r-none-10")]
        )  # fmt: skip
    return {"planned_note": planned_note}


async def _names(sessions: Sessions, column: Any, *where: Any) -> set[str]:
    async with sessions() as s:
        return {str(v) for v in await s.scalars(select(column).where(*where))}


def _deleted(table: str, tenant: str) -> float:
    labels = {"table": table, "tenant": tenant}
    return REGISTRY.get_sample_value("herald_retention_deleted_total", labels) or 0.0


async def test_history_tables_are_swept_per_tenant_and_nothing_still_needed(
    sessions: Sessions,
) -> None:
    seeded = await _seed(sessions)
    tables = ("digests", "reminders", "escalations", "rejected")
    before = {(t, n): _deleted(t, n) for t in tables for n in ("acme", "default", "")}
    sweeper = Sweeper(sessions, RetentionSettings(retention_batch=BATCH, retention_pause_s=0))
    deleted = await sweeper.sweep()
    assert await _names(sessions, Digest.user_id) == {
        "a-waiting", "a-new-0", "a-new-1", "d-kept-0", "d-kept-1"
    }  # fmt: skip
    assert await _names(sessions, Reminder.entity_id) == {
        "a-due-0", "a-due-1", "a-recent", "d-kept"
    }  # fmt: skip
    assert await _names(sessions, Escalation.status, Escalation.tenant == "acme") == {
        "sent", "planned"
    }  # fmt: skip
    async with sessions() as s:
        steps = (await s.execute(select(Escalation.notification_id, Escalation.step))).all()
        notes = set(await s.scalars(select(Notification.entity_id)))
    # acme: the recent step 4 and the planned one (its ended step 1 went); default: the skip
    assert len(steps) == 3, steps
    assert (seeded["planned_note"], 2) in steps
    assert notes == {"a-note", "a-planned", "d-note"}  # a-plain went, a-planned stayed
    assert await _names(sessions, Event.error, Event.status == "rejected") == {
        "r-acme-new", "r-default-10", "r-none-10"
    }  # fmt: skip
    assert deleted["digests"] == 6 + 4 and deleted["reminders"] == 6 + 3
    assert deleted["escalations"] == 4 + 1 and deleted["rejected"] == 4 + 1 + 1
    expected = {("digests", "acme"): 6, ("digests", "default"): 4, ("reminders", "acme"): 6,
                ("reminders", "default"): 3, ("escalations", "acme"): 4,
                ("escalations", "default"): 1, ("rejected", "acme"): 4,
                ("rejected", "default"): 1, ("rejected", ""): 1}  # fmt: skip
    for key, n in expected.items():
        assert _deleted(*key) - before[key] == n, key
    again = await sweeper.sweep()
    assert again == dict.fromkeys(deleted, 0)
