"""Producer input bounded (DESIGN §13), over AMQP and HTTP through the real ingest and
processor on PostgreSQL and RabbitMQ: a recipient id the database cannot hold is skipped with
its reason (shown on the admin's event page) and never fails the event; an event naming more
recipients than ``HERALD_MAX_RECIPIENTS_PER_EVENT`` is refused at the door."""

from __future__ import annotations

import json
import logging
from contextlib import AsyncExitStack
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Event, EventStatus, Notification
from services.ingest.app import create_app
from services.processor.app import create_app as processor_app
from tests.apps import API_KEY, eventually, ingest_settings, running
from tests.integration.services.ingest.admin.admin_support import admin_settings, login
from tests.integration.services.processor.support import add, event, person, settings
from tests.unit.services.ingest.intake_support import count_events, make_event, publish_raw

PRODUCER = {"X-API-Key": API_KEY}
TOO_LONG = "x" * 129  # notifications.user_id is VARCHAR(128)
BAD_RECIPIENTS: dict[str, list[Any]] = {"assignee": ["u-17", "", TOO_LONG, 42], "owner": ["u-3"]}
FINAL = {EventStatus.PROCESSED.value, EventStatus.FAILED.value, EventStatus.REJECTED.value}
DEFAULT_CAP = 10_000


async def _event_row(sessions: async_sessionmaker[AsyncSession], source_id: str) -> Event | None:
    async with sessions() as session:
        found: Event | None = await session.scalar(
            select(Event).where(Event.source_event_id == source_id)
        )
        return found


async def _notified(sessions: async_sessionmaker[AsyncSession], event_id: str) -> dict[str, str]:
    async with sessions() as session:
        rows = await session.execute(
            select(Notification.user_id, Notification.reason).where(
                Notification.event_id == event_id
            )
        )
        return {user: reason for user, reason in rows}


async def test_bad_recipient_ids_are_skipped_with_a_reason_never_failing_the_event(
    database_url: str,
    amqp_url: str,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await add(sessions, person("u-17"), person("u-3"))
    over_amqp, over_http = event(recipients=BAD_RECIPIENTS), event(recipients=BAD_RECIPIENTS)
    ingest = create_app(ingest_settings(database_url, amqp_url, **admin_settings()))
    caplog.set_level(logging.WARNING, logger="herald.ingest")
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(running(ingest))
        await stack.enter_async_context(running(processor_app(settings(database_url, amqp_url))))
        await publish_raw(amqp_url, [json.dumps(over_amqp).encode()])
        resp = await http.post("/v1/events", json=over_http, headers=PRODUCER)
        assert resp.status_code == 202, resp.text

        async def both_settled() -> bool:
            rows = [await _event_row(sessions, e["id"]) for e in (over_amqp, over_http)]
            return all(r is not None and r.status in FINAL for r in rows)

        await eventually(both_settled, timeout_s=20)
        rows = [await _event_row(sessions, e["id"]) for e in (over_amqp, over_http)]
        assert (await login(http)).status_code == 302
        pages = [(await http.get(f"/admin/event/details/{r.id}")).text for r in rows if r]
    for row, page in zip(rows, pages, strict=True):
        assert row is not None and row.status == EventStatus.PROCESSED.value, row and row.error
        assert await _notified(sessions, row.id) == {
            "u-17": "direct:assignee",
            "u-3": "direct:owner",
        }
        assert "Skipped recipients" in page
        assert "assignee[1]: empty id" in page
        assert "assignee[2]: 129 characters, longer than 128" in page
        assert "assignee[3]: not a string: 42" in page
    logged = [r.getMessage() for r in caplog.records if "recipients skipped" in r.getMessage()]
    assert len(logged) == 2 and all("assignee[2]: 129 characters" in m for m in logged)


def _recipients(count: int) -> dict[str, list[str]]:
    """``count`` ids over two roles: the cap counts every entry, whatever its role."""
    half = count // 2
    return {
        "assignee": [f"u-{i}" for i in range(half)],
        "watcher": [f"w-{i}" for i in range(count - half)],
    }


async def test_more_recipients_than_the_cap_are_refused_over_amqp_and_http(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    config = ingest_settings(database_url, amqp_url)
    assert config.max_recipients_per_event == DEFAULT_CAP
    over = _recipients(DEFAULT_CAP + 1)
    async with running(create_app(config)) as http:
        await publish_raw(
            amqp_url,
            [
                json.dumps(make_event(1, recipients=over)).encode(),
                json.dumps(make_event(2, recipients=_recipients(DEFAULT_CAP))).encode(),
            ],
        )
        refused = await http.post(
            "/v1/events", json=make_event(3, recipients=over), headers=PRODUCER
        )
        at_cap = await http.post(
            "/v1/events", json=make_event(4, recipients=_recipients(DEFAULT_CAP)), headers=PRODUCER
        )

        async def amqp_stored() -> bool:
            return await count_events(sessions) == 3

        await eventually(amqp_stored, timeout_s=20)
    assert refused.status_code == 422, refused.text
    problem = refused.json()["error"]["details"][0]
    assert problem["loc"] == ["body", "recipients"] and problem["type"] == "too_many_recipients"
    assert problem["msg"].startswith("too_many_recipients: 10001 recipients")
    assert at_cap.status_code == 202, at_cap.text
    assert await count_events(sessions, EventStatus.RECEIVED.value) == 2
    async with sessions() as session:
        rejected = await session.scalar(
            select(Event).where(Event.status == EventStatus.REJECTED.value)
        )
    assert rejected is not None and rejected.error is not None
    assert rejected.error.startswith("too_many_recipients: 10001 recipients")
    assert str(DEFAULT_CAP) in rejected.error


async def test_the_cap_is_the_operators_setting(
    database_url: str,
    amqp_url: str,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HERALD_MAX_RECIPIENTS_PER_EVENT", "3")
    config = ingest_settings(database_url, amqp_url)
    assert config.max_recipients_per_event == 3
    async with running(create_app(config)) as http:
        await publish_raw(amqp_url, [json.dumps(make_event(1, recipients=_recipients(4))).encode()])
        refused = await http.post(
            "/v1/events", json=make_event(2, recipients=_recipients(4)), headers=PRODUCER
        )
        fits = await http.post(
            "/v1/events", json=make_event(3, recipients=_recipients(3)), headers=PRODUCER
        )

        async def rejected() -> bool:
            return await count_events(sessions, EventStatus.REJECTED.value) == 1

        await eventually(rejected, timeout_s=20)
    assert refused.status_code == 422 and "too_many_recipients: 4" in refused.text
    assert fits.status_code == 202, fits.text
