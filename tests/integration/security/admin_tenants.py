"""Rows of two tenants for the admin isolation test: for every admin view one row of ``acme``
(the bound admin's) and one of ``beta`` (someone else's), each carrying its tenant's marker in
a column the list, details and export show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqladmin.helpers import get_object_identifier
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import (
    ChannelPreference,
    Delivery,
    DigestSchedule,
    EmailLayout,
    Event,
    EventType,
    Notification,
    Recipient,
    Subscription,
    Template,
)

MINE, THEIRS = "acme", "beta"
MARK = {MINE: "ACMEMARK", THEIRS: "BETAMARK"}


@dataclass
class Seeded:
    """Per view identity, the primary key (as sqladmin writes it) of each tenant's row."""

    pks: dict[str, dict[str, str]] = field(default_factory=dict)
    global_template: str = ""
    global_event_type: str = ""


def _rows(tenant: str) -> list[Any]:
    mark = MARK[tenant]
    user = f"u-{mark}"
    return [
        EventType(tenant=tenant, key=f"tenders.{mark}", source="tenders", title=mark),
        Template(tenant=tenant, event_type="*", channel="email", locale="ru", subject=mark,
                 body=mark),
        EmailLayout(tenant=tenant, sender_name=mark),
        Recipient(tenant=tenant, user_id=user, email=f"{mark}@example.com"),
        Subscription(tenant=tenant, user_id=user, name=mark, source="tenders",
                     entity_type="tender", filter=[], channels=["email"]),
        ChannelPreference(tenant=tenant, user_id=user, source="tenders", channel="email",
                          mode="digest"),
        DigestSchedule(tenant=tenant, user_id=user, channel="email", days_of_week=[0],
                       time_of_day="09:00", timezone="UTC", window_start=datetime.now(UTC)),
    ]  # fmt: skip


def _event(tenant: str) -> Event:
    mark = MARK[tenant]
    return Event(
        id=f"ev-{mark}", tenant=tenant, source="tenders", source_event_id=mark,
        type="tender.updated", entity_type="tender", entity_id=f"T-{mark}", status="failed",
        error=f"boom {mark}", body={"id": mark, "tenant": tenant},
    )  # fmt: skip


def _trail(event: Event, tenant: str) -> tuple[Notification, Delivery]:
    user = f"u-{MARK[tenant]}"
    note = Notification(
        tenant=tenant, event_id=event.id, user_id=user, reason="direct:assignee",
        source="tenders", type="tender.updated", entity_type="tender", entity_id=event.entity_id,
        title=MARK[tenant], body=MARK[tenant],
    )  # fmt: skip
    delivery = Delivery(
        tenant=tenant, user_id=user, source="tenders", channel="email", status="FAILED",
        attempts=8, last_error=f"550 {MARK[tenant]}", subject=MARK[tenant],
    )  # fmt: skip
    return note, delivery


async def seed_two_tenants(sessions: async_sessionmaker[AsyncSession]) -> Seeded:
    seeded = Seeded()
    async with transaction(sessions) as s:
        for tenant in (MINE, THEIRS):
            rows = _rows(tenant)
            event = _event(tenant)
            s.add_all([*rows, event])
            await s.flush()
            note, delivery = _trail(event, tenant)
            s.add(note)
            await s.flush()
            delivery.notification_id = note.id
            s.add(delivery)
            await s.flush()
            identities = [
                "event-type", "template", "email-layout", "recipient", "subscription",
                "channel-preference", "digest-schedule",
            ]  # fmt: skip
            for identity, row in [*zip(identities, rows, strict=True), ("event", event),
                                  ("delivery", delivery)]:  # fmt: skip
                seeded.pks.setdefault(identity, {})[tenant] = str(get_object_identifier(row))
            seeded.pks.setdefault("tenant", {})[tenant] = tenant
        # a rejected row names its tenant when that tenant is registered; NULL is global-only
        s.add(Event(id="rejected-1", status="rejected", raw=b"x", error=f"invalid {MARK[THEIRS]}"))
        for tenant in (MINE, THEIRS):
            s.add(Event(id=f"rejected-{tenant}", tenant=tenant, status="rejected", raw=b"x",
                        error=f"invalid {MARK[tenant]}"))  # fmt: skip
        glob_type = EventType(key="tenders.global", source="tenders", title="GLOBALMARK")
        s.add(glob_type)
        await s.flush()
        seeded.pks["rejected-message"] = {t: f"rejected-{t}" for t in (MINE, THEIRS)}
        seeded.global_event_type = str(glob_type.id)
    async with sessions() as s:
        seeded.global_template = str(
            await s.scalar(select(Template.id).where(Template.tenant.is_(None)).limit(1))
        )
    return seeded
