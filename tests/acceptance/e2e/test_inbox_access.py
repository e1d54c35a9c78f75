"""The inbox is a send-time surface, end to end (DESIGN §13), on PostgreSQL + RabbitMQ with the
real mediator asking the reference module backend on Herald's own database.

The rule of the reference backend: the people named in an object's events may read it, and
their managers up the chain. Tender T-77 and T-78 name u-17 (assignee) and u-7 (actor).

* u-21, u-17's colleague, follows every tender (catch-all subscription, e-mail): his
  e-mails are DENIED at send time and his inbox shows nothing of them, titles included;
* u-22 (no e-mail address: no instant delivery at all) likewise, decided by the visibility
  checker;
* u-3, u-17's manager, has no e-mail either: the checker makes the items visible to him;
  once he read one, u-17 gets another manager: both items leave his inbox and counts follow.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from herald.emit import sample_event
from libs.common.db.models import Delivery, DeliveryStatus, Notification, Recipient
from libs.common.inbox.access import ALLOWED, DENIED
from services.acl_mediator.reference_data import HeraldDirectory
from services.ingest.app import create_app as ingest_app
from services.processor.app import create_app as processor_app
from services.processor.settings import ProcessorSettings
from services.sender.app import create_app as sender_app
from services.sender.settings import SenderSettings
from tests.apps import API_KEY, eventually, ingest_settings, running
from tests.integration.services.ingest.user_api_data import auth
from tests.integration.services.sender.support import MEDIATOR_KEY
from tests.mediator_stack import real_mediator

CATCH_ALL = {
    "name": "every tender",
    "source": "tenders",
    "entity_type": "tender",
    "filter": [],
    "channels": ["email"],
}
TITLES = {"T-77": "Fire doors for T-77 (confidential)", "T-78": "Budget cut for T-78"}


def _event(tender: str) -> dict[str, Any]:
    event = sample_event()
    event["entity"] = {**event["entity"], "id": tender}
    event["recipients"] = {"assignee": ["u-17"]}
    event["payload"] = {"title": TITLES[tender]}
    return event


async def _people(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        session.add_all(
            [
                Recipient(tenant="default", user_id="u-17", email="u17@x.test", manager_id="u-3"),
                Recipient(tenant="default", user_id="u-21", email="u21@x.test", manager_id="u-3"),
                Recipient(tenant="default", user_id="u-3"),
                Recipient(tenant="default", user_id="u-22"),
            ]
        )


async def _all_decided(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        notes = await session.scalar(select(func.count()).select_from(Notification))
        unchecked = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.access.is_(None))
        )
        open_rows = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
        )
    return notes == 8 and unchecked == 0 and open_rows == 0


async def _view(http: httpx.AsyncClient, user: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    headers = auth(user)
    page = await http.get("/v1/inbox", headers=headers)
    counts = await http.get("/v1/inbox/counts", headers=headers)
    preview = await http.post(
        "/v1/subscriptions/preview",
        json={k: CATCH_ALL[k] for k in ("source", "entity_type", "filter")},
        headers=headers,
    )
    assert (page.status_code, counts.status_code, preview.status_code) == (200, 200, 200)
    return page.json(), counts.json(), page.text + counts.text + preview.text


async def test_no_inbox_surface_shows_what_the_module_denies(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _people(sessions)
    async with AsyncExitStack() as stack:
        mediator_url = await stack.enter_async_context(
            real_mediator(tmp_path, HeraldDirectory(database_url))
        )
        mediator: dict[str, Any] = {"mediator_url": mediator_url, "mediator_api_key": MEDIATOR_KEY}
        http = await stack.enter_async_context(
            running(ingest_app(ingest_settings(database_url, amqp_url, **mediator)))
        )
        for user in ("u-21", "u-22", "u-3"):
            sub = await http.post("/v1/subscriptions", json=CATCH_ALL, headers=auth(user))
            assert sub.status_code == 201, sub.text
        await stack.enter_async_context(
            running(
                processor_app(
                    ProcessorSettings(
                        database_url=database_url,
                        amqp_url=amqp_url,
                        outbox_dir=tmp_path / "outbox",  # e-mail has a provider
                    )
                )
            )
        )
        sender = SenderSettings(
            database_url=database_url,
            amqp_url=amqp_url,
            outbox_dir=tmp_path / "outbox",
            visibility_interval_s=0.2,
            visibility_grace_s=0.5,
            **mediator,
        )
        await stack.enter_async_context(running(sender_app(sender)))
        for tender in TITLES:
            resp = await http.post(
                "/v1/events", json=_event(tender), headers={"X-API-Key": API_KEY}
            )
            assert resp.status_code == 202, resp.text
        await eventually(lambda: _all_decided(sessions), timeout_s=20)

        async with sessions() as session:
            rows = await session.execute(select(Delivery.user_id, Delivery.status))
            statuses = {(u, s) for u, s in rows.all()}
            rows = await session.execute(select(Notification.user_id, Notification.access))
            access = {(u, a) for u, a in rows.all()}
        assert ("u-21", DeliveryStatus.DENIED) in statuses
        assert {s for u, s in statuses if u == "u-21"} == {DeliveryStatus.DENIED}
        assert access == {("u-17", ALLOWED), ("u-3", ALLOWED), ("u-21", DENIED), ("u-22", DENIED)}

        for outsider in ("u-21", "u-22"):
            page, counts, seen = await _view(http, outsider)
            assert page["items"] == [] and counts["total"] == 0, outsider
            assert not [t for t in (*TITLES, *TITLES.values()) if t in seen], outsider

        page, counts, seen = await _view(http, "u-3")
        assert sorted(i["entity_id"] for i in page["items"]) == ["T-77", "T-78"]
        assert counts["total"] == 2 and TITLES["T-77"] in seen
        [first] = [i["id"] for i in page["items"] if i["entity_id"] == "T-77"]
        assert (await http.post(f"/v1/inbox/{first}/read", headers=auth("u-3"))).status_code == 200

        # u-17 moves to another manager: u-3 may no longer read T-77 nor T-78
        async with sessions() as session, session.begin():
            await session.execute(
                update(Recipient).where(Recipient.user_id == "u-17").values(manager_id="u-1")
            )
        async with httpx.AsyncClient(base_url=mediator_url) as acl:
            forgot = await acl.post(
                "/v1/permissions/invalidate",
                json={"tenant": "default", "user_id": "u-3"},
                headers={"X-API-Key": MEDIATOR_KEY},
            )
            assert forgot.status_code == 200, forgot.text
        before = (await http.get("/v1/inbox/counts", headers=auth("u-3"))).json()
        page, counts, seen = await _view(http, "u-3")
        assert before["total"] == 1
        assert page["items"] == [] and counts["total"] == 0
        assert TITLES["T-77"] not in seen and TITLES["T-78"] not in seen
        read_again = await http.post(f"/v1/inbox/{first}/unread", headers=auth("u-3"))
        assert read_again.status_code == 404
