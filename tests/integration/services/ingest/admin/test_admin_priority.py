"""The admin shows an event's priority and why each delivery got its status (DESIGN §6): a low
event processed by the real processor, then its event page and the user's story."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.services.ingest.admin.admin_support import admin_client
from tests.integration.services.processor.support import add, event, person, processor, store


async def test_event_page_and_story_show_priority_and_the_reasons(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await add(sessions, person("u-17"))
    body = event(priority="low", recipients={"assignee": ["u-17"]})
    event_id = await store(sessions, body)
    assert await (await processor(sessions, database_url)).process_ids([event_id]) == 1
    async with admin_client(database_url, "memory://admin-priority") as client:
        details = (await client.get(f"/admin/event/details/{event_id}")).text
        story = (await client.get("/admin/story?user=u-17&tenant=default")).text
    for page in (details, story):
        assert 'class="herald-priority herald-priority-low">low</' in page
        assert "low priority: email only when chosen instant" in page
        assert "no email digest schedule; inbox only" in page
