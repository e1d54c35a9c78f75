"""Escalation chains in the admin (issue 17): an event type's chain is validated against the
channel registry before it is saved, and the story and event pages show each step — planned,
sent (with its delivery), skipped (why), stopped because the notification was read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import EventType, Notification
from tests.integration.services.ingest.admin.admin_support import SAME_ORIGIN, admin_client
from tests.integration.services.processor.support import add, event, person, processor, store

MEMORY = "memory://admin-escalation"
PROVIDERS = {"smtp_host": "127.0.0.1", "telegram_bot_token": "42:token"}
CHAIN = [
    {"channel": "browser", "after_minutes": 0},
    {"channel": "email", "after_minutes": 10},
    {"channel": "telegram", "after_minutes": 30},
]


def _form(key: str, chain: Any) -> dict[str, str]:
    return {
        "key": f"tenders.{key}", "source": "tenders", "title": "Alert", "category": "c",
        "default_channels": '["browser"]', "default_locale": "ru", "enabled": "y",
        "critical": "y", "escalation": chain if isinstance(chain, str) else json.dumps(chain),
    }  # fmt: skip


async def test_the_admin_refuses_a_bad_chain_and_keeps_a_good_one(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    bad = {
        "unknown": ([{"channel": "pigeon", "after_minutes": 5}], "unknown channel pigeon"),
        "backwards": (
            [
                {"channel": "email", "after_minutes": 30},
                {"channel": "telegram", "after_minutes": 10},
            ],
            "must come later than the step before",
        ),
        "twice": (
            [{"channel": "email", "after_minutes": 5}, {"channel": "email", "after_minutes": 10}],
            "email appears twice",
        ),
        "no_provider": ([{"channel": "sms", "after_minutes": 60}], "no provider for channel sms"),
        "negative": ([{"channel": "email", "after_minutes": -1}], "after_minutes"),
        "not_json": ("browser -> email", "Invalid JSON"),  # the form's JSON field says so
        "not_a_list": ('{"channel": "email"}', "escalation: a JSON list"),
    }
    async with admin_client(database_url, MEMORY, **PROVIDERS) as client:
        answers = {
            name: await client.post(
                "/admin/event-type/create", data=_form(name, chain), headers=SAME_ORIGIN
            )
            for name, (chain, _) in bad.items()
        }
        good = await client.post(
            "/admin/event-type/create", data=_form("good", CHAIN), headers=SAME_ORIGIN
        )
    for name, (_, why) in bad.items():
        assert answers[name].status_code == 400, name
        assert why in answers[name].text, (name, answers[name].text[-600:])
    assert good.status_code == 302, good.text[-800:]
    async with sessions() as s:
        stored = (await s.scalars(select(EventType).where(EventType.source == "tenders"))).all()
    assert [(t.key, t.escalation) for t in stored] == [("tenders.good", CHAIN)]


async def test_the_story_page_shows_each_step(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    t0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    await add(
        sessions,
        person("u-ann"),  # no Telegram chat
        EventType(
            key="tenders.alarm", source="tenders", default_channels=["browser"],
            critical=True, digestible=False, escalation=[*CHAIN, {"channel": "sms",
                                                                  "after_minutes": 60}],
        ),
    )  # fmt: skip
    worker = await processor(sessions, database_url)
    event_id = await store(sessions, event(type="alarm", recipients={"assignee": ["u-ann"]}))
    with time_machine.travel(t0, tick=False):
        assert await worker.process_ids([event_id]) == 1
    with time_machine.travel(t0 + timedelta(minutes=31), tick=False):
        assert await worker.fire_escalations() == 3
    async with sessions() as s:
        await s.execute(update(Notification).values(read_at=t0 + timedelta(minutes=40)))
        await s.commit()
    with time_machine.travel(t0 + timedelta(minutes=61), tick=False):
        assert await worker.fire_escalations() == 1
    async with admin_client(database_url, MEMORY) as client:
        story = (await client.get("/admin/story?user=u-ann&tenant=default")).text
        details = (await client.get(f"/admin/event/details/{event_id}")).text
    for page in (story, details):
        assert "Escalation" in page
        assert 'herald-escalation-skipped">skipped' in page  # browser (at once), telegram
        assert "no linked Telegram chat" in page
        assert 'herald-escalation-sent">sent' in page  # e-mail, with its delivery
        assert 'herald-escalation-stopped">stopped' in page  # sms: read before its time
        assert "read at" in page
