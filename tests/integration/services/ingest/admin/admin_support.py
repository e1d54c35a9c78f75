"""Helpers for the admin tests: an ingest app with the admin on, and a logged-in client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Delivery, DeliveryAttempt, Event, Notification
from services.ingest.admin.passwords import hash_password
from services.ingest.app import create_app
from tests.apps import ingest_settings, running

ADMIN_USER = "ops"
ADMIN_PASSWORD = "correct horse battery staple"
SESSION_SECRET = "admin-session-secret-0123456789abcdef"
ORIGIN = "http://herald.test"
SAME_ORIGIN = {"Origin": ORIGIN}

_HASH = hash_password(ADMIN_PASSWORD)  # once: scrypt costs ~50 ms


def admin_settings(**overrides: Any) -> dict[str, Any]:
    return {"admin_users": {ADMIN_USER: _HASH}, "admin_session_secret": SESSION_SECRET, **overrides}


def admin_app(database_url: str, amqp_url: str, **overrides: Any) -> FastAPI:
    settings = ingest_settings(database_url, amqp_url, **admin_settings(**overrides))
    return create_app(settings, consume=False)


async def login(
    client: httpx.AsyncClient, user: str = ADMIN_USER, password: str = ADMIN_PASSWORD
) -> httpx.Response:
    return await client.post(
        "/admin/login", data={"username": user, "password": password}, headers=SAME_ORIGIN
    )


@asynccontextmanager
async def admin_client(
    database_url: str, amqp_url: str, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    async with running(admin_app(database_url, amqp_url, **overrides)) as client:
        response = await login(client)
        assert response.status_code == 302, response.text
        yield client


async def seed_story(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """u-17's week: one event with SENT, SKIPPED and FAILED deliveries (and their attempts),
    a DENIED one, an event where they were the actor, a failed event naming them, and
    another user's notification that must never show in u-17's story."""
    ids: dict[str, Any] = {}
    async with transaction(sessions) as s:
        e1 = _event("e-1", body=sample_body("u-17", actor="u-7"))
        e2 = _event("e-2", body=sample_body("u-21", actor="u-17"))
        e3 = _event("e-3", body=sample_body("u-17", actor="u-7"), status="failed", error="boom: db")
        e4 = _event("e-4", body=sample_body("u-17", actor="u-7"))
        s.add_all([e1, e2, e3, e4])
        await s.flush()
        n1 = _note(e1, "u-17", "direct:assignee")
        n4 = _note(e4, "u-17", "subscription:3")
        other = _note(e1, "u-3", "direct:owner")
        s.add_all([n1, n4, other])
        await s.flush()
        sent = _delivery(n1, "browser", "SENT", attempts=1)
        skipped = _delivery(n1, "telegram", "SKIPPED", reason="no telegram chat linked")
        failed = _delivery(n1, "email", "FAILED", attempts=8, last_error="550 mailbox unavailable")
        denied = _delivery(n4, "email", "DENIED", attempts=1, reason="mediator: read denied")
        theirs = _delivery(other, "email", "FAILED", attempts=8, last_error="other user's error")
        s.add_all([sent, skipped, failed, denied, theirs])
        await s.flush()
        s.add_all(
            [
                DeliveryAttempt(delivery_id=sent.id, attempt=1, outcome="sent"),
                DeliveryAttempt(
                    delivery_id=failed.id, attempt=7, outcome="retry", error="421 busy"
                ),
                DeliveryAttempt(
                    delivery_id=failed.id,
                    attempt=8,
                    outcome="failed",
                    error="550 mailbox unavailable",
                ),
            ]
        )
        ids.update(sent=sent.id, skipped=skipped.id, failed=failed.id, denied=denied.id)
        ids.update(theirs=theirs.id, n1=n1.id)
    return ids


def sample_body(assignee: str, actor: str) -> dict[str, Any]:
    return {
        "id": f"src-{uuid.uuid4().hex[:8]}",
        "source": "tenders",
        "type": "tender.requirement_added",
        "tenant": "default",
        "project_id": "P-42",
        "entity": {"type": "tender", "id": "T-1001", "attributes": {"section": "basement"}},
        "actor": {"id": actor},
        "recipients": {"assignee": [assignee]},
        "priority": "normal",
        "occurred_at": "2026-11-26T10:00:00+00:00",
        "payload": {"title": "Add fire-safety certificate"},
    }


def _event(
    event_id: str, body: dict[str, Any], status: str = "processed", error: str | None = None
) -> Event:
    return Event(
        id=event_id, tenant="default", source="tenders", source_event_id=body["id"],
        type="tender.requirement_added", project_id="P-42", entity_type="tender",
        entity_id="T-1001", priority="normal", body=body, status=status, error=error,
    )  # fmt: skip


def _note(event: Event, user_id: str, reason: str) -> Notification:
    return Notification(
        tenant="default", event_id=event.id, user_id=user_id, reason=reason, source="tenders",
        type="tender.requirement_added", entity_type="tender", entity_id="T-1001",
        title="Add fire-safety certificate", body="tender T-1001",
    )  # fmt: skip


def _delivery(note: Notification, channel: str, status: str, **values: Any) -> Delivery:
    return Delivery(
        notification_id=note.id, tenant="default", user_id=note.user_id, source="tenders",
        channel=channel, status=status, **values,
    )  # fmt: skip
