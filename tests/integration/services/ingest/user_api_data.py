"""Rows and clients for the user API tests: events + notifications written directly."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Event, EventStatus, Notification
from libs.common.inbox.access import ALLOWED
from services.ingest.app import create_app
from tests.apps import ingest_settings, running, user_token
from tests.integration.services.sender.support import (
    MEDIATOR_KEY,
    Decide,
    allow_all,
    mediator_server,
)


def auth(user: str, tenant: str = "default") -> dict[str, str]:
    return {"Authorization": f"Bearer {user_token(user, tenant)}"}


@asynccontextmanager
async def user_api_app(
    database_url: str, decide: Decide = allow_all, **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The real ingest app (lifespan included) on the in-memory bus, without the consumer,
    asking a mediator over HTTP that answers ``decide`` (unless ``mediator_url`` is given)."""
    async with mediator_server(decide) as mediator_url:
        overrides = {"mediator_url": mediator_url, "mediator_api_key": MEDIATOR_KEY, **overrides}
        settings = ingest_settings(database_url, f"memory://{uuid.uuid4().hex}", **overrides)
        app = create_app(settings, consume=False)
        async with running(app) as client:
            yield app, client


@asynccontextmanager
async def user_api(
    database_url: str, decide: Decide = allow_all, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    async with user_api_app(database_url, decide, **overrides) as (_app, client):
        yield client


def event_row(
    source: str = "tenders",
    entity_type: str = "tender",
    tenant: str = "default",
    attributes: dict[str, Any] | None = None,
    project_id: str | None = "P-42",
    occurred_at: datetime | None = None,
) -> Event:
    eid = str(uuid.uuid4())
    entity_id = f"T-{eid[:6]}"
    when = occurred_at or datetime.now(UTC)
    body = {
        "id": eid,
        "source": source,
        "type": f"{entity_type}.changed",
        "tenant": tenant,
        "project_id": project_id,
        "entity": {"type": entity_type, "id": entity_id, "attributes": attributes or {}},
        "occurred_at": when.isoformat(),
    }
    return Event(
        id=eid,
        tenant=tenant,
        source=source,
        source_event_id=eid,
        type=f"{entity_type}.changed",
        project_id=project_id,
        entity_type=entity_type,
        entity_id=entity_id,
        occurred_at=when,
        body=body,
        status=EventStatus.PROCESSED.value,
    )


async def add_notifications(
    sessions: async_sessionmaker[AsyncSession],
    user: str,
    count: int,
    *,
    tenant: str = "default",
    source: str = "tenders",
    read: bool = False,
    access: str | None = ALLOWED,
) -> list[int]:
    """``count`` notifications for one user, one event each; their ids in insertion order.
    ``access``: their first permission check's outcome (``allowed``: visible in the inbox)."""
    async with transaction(sessions) as session:
        notes = []
        for i in range(count):
            event = event_row(source=source, tenant=tenant)
            session.add(event)
            notes.append(_note(event, user, f"item {i}", read, access))
        session.add_all(notes)
        await session.flush()
        return [n.id for n in notes]


def _note(event: Event, user: str, title: str, read: bool, access: str | None) -> Notification:
    return Notification(
        tenant=event.tenant or "default",
        event_id=event.id,
        user_id=user,
        reason="direct:assignee",
        source=event.source or "",
        type=event.type or "",
        entity_type=event.entity_type or "",
        entity_id=event.entity_id or "",
        project_id=event.project_id,
        title=title,
        body="body",
        read_at=datetime.now(UTC) if read else None,
        access=access,
    )
