"""The user's story, the event trail, deliveries with attempts, rejected messages, and the
validation of what operators configure."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import DigestSchedule, Event
from tests.integration.services.ingest.admin.admin_support import (
    SAME_ORIGIN,
    admin_client,
    seed_story,
)

MEMORY = "memory://admin-views"


async def test_the_story_answers_i_never_got_it(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await seed_story(sessions)
    async with admin_client(database_url, MEMORY) as client:
        page = (await client.get("/admin/story?user=u-17&tenant=default")).text
    for expected in [
        "u-17 (default)",
        "direct:assignee",
        "subscription:3",
        "SENT",
        "SKIPPED",
        "no telegram chat linked",
        "550 mailbox unavailable",
        "421 busy",
        "DENIED",
        "mediator: read denied",
        "they are the actor",  # e-2: u-17 acted, nobody notifies you of your own action
        "the event is failed: boom: db",  # e-3
    ]:
        assert expected in page, expected
    assert "other user&#39;s error" not in page and "other user's error" not in page
    assert f"#{ids['theirs']}" not in page
    assert page.count('class="card mb-2 story-entry"') == 2


async def test_event_details_show_raw_body_and_processing_trail(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await seed_story(sessions)
    async with admin_client(database_url, MEMORY) as client:
        page = (await client.get("/admin/event/details/e-1")).text
        delivery = (await client.get(f"/admin/delivery/details/{ids['failed']}")).text
        failed_only = (await client.get("/admin/event/list?status=failed")).text
        since = "/admin/event/list?received_at_op=greater_than&received_at="
        recent = (await client.get(since + "2000-01-01T00:00")).text
        future = (await client.get(since + "2999-01-01T00:00")).text
    assert "Processing trail" in page and "&#34;section&#34;: &#34;basement&#34;" in page
    assert "550 mailbox unavailable" in page and "no telegram chat linked" in page
    assert "421 busy" in delivery and "Attempts" in delivery
    assert "e-1" in recent.split("<tbody")[-1] and "e-1" not in future.split("<tbody")[-1]
    assert "e-3" in failed_only and not re.search(r"\be-1\b", failed_only.split("<tbody")[-1])


async def test_rejected_messages_show_raw_bytes_headers_and_reason(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with transaction(sessions) as s:
        s.add(
            Event(
                id="r-1", status="rejected", raw=b'{"id": 1, \xff broken',
                error="not_utf8: offset 10", headers={"content-type": "application/json"},
            )
        )  # fmt: skip
    async with admin_client(database_url, MEMORY) as client:
        listing = (await client.get("/admin/rejected-message/list")).text
        details = (await client.get("/admin/rejected-message/details/r-1")).text
    assert "not_utf8: offset 10" in listing
    assert "broken" in details and "\ufffd" in details and "content-type" in details


async def test_configuration_is_validated_before_saving(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with admin_client(database_url, MEMORY) as client:
        bad_filter = await client.post(
            "/admin/subscription/create",
            data={
                "tenant": "default", "user_id": "u-17", "name": "x", "source": "tenders",
                "entity_type": "tender", "filter": '[{"field": "a", "op": "nope", "value": 1}]',
                "channels": '["email"]', "enabled": "y",
            },
            headers=SAME_ORIGIN,
        )  # fmt: skip
        bad_channel = await client.post(
            "/admin/event-type/create",
            data={
                "key": "tenders.x", "source": "tenders", "title": "X", "category": "c",
                "default_channels": '["pigeon"]', "default_locale": "ru", "enabled": "y",
            },
            headers=SAME_ORIGIN,
        )  # fmt: skip
        bad_zone = await client.post(
            "/admin/digest-schedule/create",
            data={
                "tenant": "default", "user_id": "u-17", "channel": "email",
                "days_of_week": "[0, 2]", "time_of_day": "09:00", "timezone": "Mars/Olympus",
                "enabled": "y",
            },
            headers=SAME_ORIGIN,
        )  # fmt: skip
        good = await client.post(
            "/admin/digest-schedule/create",
            data={
                "tenant": "default", "user_id": "u-17", "channel": "email",
                "days_of_week": "[4, 0]", "time_of_day": "09:00", "timezone": "Europe/Moscow",
                "enabled": "y",
            },
            headers=SAME_ORIGIN,
        )  # fmt: skip
    assert bad_filter.status_code == 400 and "filter:" in bad_filter.text
    assert bad_channel.status_code == 400 and "pigeon" in bad_channel.text
    assert bad_zone.status_code == 400 and "schedule:" in bad_zone.text
    assert good.status_code == 302, good.text[-800:]
    async with sessions() as s:
        row = await s.get(DigestSchedule, ("default", "u-17", "email"))
    assert row is not None and row.days_of_week == [0, 4] and row.next_run_at is not None
