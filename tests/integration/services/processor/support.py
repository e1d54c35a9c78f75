"""Helpers for processor tests: store events as ingest does, build a real Processor."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus, make_bus
from libs.common.db.engine import transaction
from libs.common.db.models import Delivery, Event, Notification, Recipient, utcnow
from libs.common.schemas.envelope import validate_body
from services.processor.batch import Deps
from services.processor.catalog import Catalog
from services.processor.directory import Directory, TableDirectory
from services.processor.settings import ProcessorSettings
from services.processor.worker import Processor

OCCURRED = "2026-11-26T10:00:00Z"


def event(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "source": "tenders",
        "type": "tender.requirement_added",
        "tenant": "default",
        "project_id": "P-42",
        "entity": {
            "type": "tender",
            "id": "T-1001",
            "attributes": {"deadline": "2026-12-01", "section": "basement"},
        },
        "actor": {"id": "u-7"},
        "recipients": {"assignee": ["u-17"], "owner": ["u-3"]},
        "priority": "normal",
        "occurred_at": OCCURRED,
        "payload": {"title": "Add fire-safety certificate"},
    }
    body.update(over)
    return body


async def store(sessions: async_sessionmaker[AsyncSession], body: dict[str, Any]) -> str:
    """The row ingest stores for an accepted event (status received)."""
    env = validate_body(body)
    row = Event(
        id=str(uuid.uuid4()),
        tenant=env.tenant,
        source=env.source,
        source_event_id=env.id,
        type=env.type,
        project_id=env.project_id,
        entity_type=env.entity.type,
        entity_id=env.entity.id,
        priority=env.priority.value,
        occurred_at=env.occurred_at,
        body=body,
        status="received",
        attempts=0,
        received_at=utcnow(),
    )
    async with transaction(sessions) as session:
        session.add(row)
    return row.id


def person(user_id: str, **over: Any) -> Recipient:
    values: dict[str, Any] = {
        "tenant": "default",
        "user_id": user_id,
        "email": f"{user_id}@example.com",
        "locale": "ru",
        "roles": [],
        "attributes": {},
    }
    values.update(over)
    return Recipient(**values)


async def add(sessions: async_sessionmaker[AsyncSession], *rows: Any) -> None:
    async with transaction(sessions) as session:
        session.add_all(rows)


def settings(database_url: str, amqp_url: str = "memory://processor-tests", **over: Any) -> Any:
    values: dict[str, Any] = {
        "database_url": database_url,
        "amqp_url": amqp_url,
        "processor_sweep_age_s": 0,
        "processor_catalog_ttl_s": 0,
        # e-mail has a provider, as every service is told in production: the processor plans
        # no delivery on a channel without one (libs/common/delivery/channels.py)
        "smtp_host": "127.0.0.1",
    }
    values.update(over)
    return ProcessorSettings(**values)


async def processor(
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    bus: Bus | None = None,
    directory: Directory | None = None,
    **over: Any,
) -> Processor:
    s = settings(database_url, **over)
    the_bus = bus or make_bus(s.amqp_url)
    await the_bus.connect()
    catalog = Catalog(s.processor_default_channels, 0)
    deps = Deps(catalog, directory or TableDirectory(), s.max_recipients_per_event)
    return Processor(sessions, the_bus, s, deps)


async def rows(
    sessions: async_sessionmaker[AsyncSession], event_id: str
) -> list[tuple[str, str, str, str, str]]:
    """(user, notification reason, channel, status, delivery reason), sorted."""
    async with sessions() as session:
        found = await session.execute(
            select(
                Notification.user_id,
                Notification.reason,
                Delivery.channel,
                Delivery.status,
                Delivery.reason,
            )
            .join(Delivery, Delivery.notification_id == Notification.id)
            .where(Notification.event_id == event_id)
        )
        return sorted(tuple(r) for r in found.all())  # type: ignore[misc]


async def event_row(sessions: async_sessionmaker[AsyncSession], event_id: str) -> Event:
    async with sessions() as session:
        found = await session.get(Event, event_id)
        assert found is not None
        return found
