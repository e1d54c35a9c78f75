"""Issue 17: naming ``sms`` as an event type's default channel gave FAILED deliveries the user
could not even switch off. Now the admin refuses a channel without a provider, the processor
never plans one (SKIPPED with the reason) and the user may switch any registered channel off."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import make_bus
from libs.common.db.engine import transaction
from libs.common.db.models import ChannelPreference, EventType
from services.processor.app import make_deps
from services.processor.worker import Processor
from tests.integration.services.ingest.admin.admin_support import SAME_ORIGIN, admin_client
from tests.integration.services.ingest.user_api_data import auth, user_api
from tests.integration.services.processor.support import add, event, person, rows, settings, store

MEMORY = "memory://admin-channels"
SMS_TYPE = {
    "key": "tenders.sms_alert", "source": "tenders", "title": "Alert", "category": "c",
    "default_channels": '["sms", "browser"]', "default_locale": "ru", "enabled": "y",
}  # fmt: skip


async def test_admin_refuses_a_default_channel_without_a_provider(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with admin_client(database_url, MEMORY) as client:
        refused = await client.post("/admin/event-type/create", data=SMS_TYPE, headers=SAME_ORIGIN)
    assert refused.status_code == 400
    assert "no provider for channel sms" in refused.text
    async with sessions() as s:
        assert await s.scalar(select(EventType).where(EventType.key == "tenders.sms_alert")) is None
    gateway = "http://127.0.0.1:9/send"  # configured: the admin accepts it
    async with admin_client(database_url, MEMORY, sms_gateway_url=gateway) as client:
        stored = await client.post("/admin/event-type/create", data=SMS_TYPE, headers=SAME_ORIGIN)
    assert stored.status_code == 302, stored.text[-600:]


async def _plan(
    sessions: async_sessionmaker[AsyncSession], database_url: str, **channel_settings: str
) -> dict[str, tuple[str, str]]:
    s = settings(database_url, amqp_url=f"memory://{uuid.uuid4().hex}", **channel_settings)
    bus = make_bus(s.amqp_url)
    await bus.connect()
    async with AsyncExitStack() as stack:
        worker = Processor(sessions, bus, s, await make_deps(s, stack))
        event_id = await store(sessions, event(type="sms_alert", recipients={"assignee": ["u-5"]}))
        assert await worker.process_ids([event_id]) == 1
    return {ch: (status, why) for _u, _r, ch, status, why in await rows(sessions, event_id)}


async def test_the_processor_plans_no_delivery_on_a_channel_without_a_provider(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await add(
        sessions,
        person("u-5", phone="+79161234567"),
        EventType(key="tenders.sms_alert", source="tenders", default_channels=["sms", "browser"]),
    )
    unconfigured = await _plan(sessions, database_url)
    assert unconfigured["sms"] == ("SKIPPED", "no provider for channel sms")
    assert unconfigured["browser"][0] == "PENDING"
    configured = await _plan(sessions, database_url, sms_gateway_url="http://127.0.0.1:9/send")
    assert configured["sms"][0] == "PENDING"


async def test_a_user_can_switch_sms_off(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    change = {"changes": [{"source": "*", "channel": "sms", "mode": "off"}]}
    async with user_api(database_url) as http:
        answer = await http.put("/v1/preferences", json=change, headers=auth("alice"))
        view = (await http.get("/v1/preferences", headers=auth("alice"))).json()
    assert answer.status_code == 200, answer.text
    assert "sms" in view["channels"]
    async with transaction(sessions) as s:
        query = select(ChannelPreference.mode).where(ChannelPreference.channel == "sms")
        stored = await s.scalar(query)
    assert stored == "off"
