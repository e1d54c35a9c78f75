"""The thin slice of the foundation: an event in → stored → processed → e-mail in the outbox,
on both backends (PostgreSQL + RabbitMQ, and SQLite + the in-memory bus)."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from email import message_from_bytes
from pathlib import Path

from sqlalchemy import func, select

from herald.emit import sample_event
from libs.common.catalog.defaults import seed_defaults
from libs.common.clients.producer import EventProducer
from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade_async
from libs.common.db.models import Delivery, DeliveryStatus, Event, Notification, Recipient
from services.acl_mediator.app import create_app as mediator_app
from services.acl_mediator.reference_backend import create_reference_app
from services.acl_mediator.reference_data import HeraldDirectory
from services.acl_mediator.settings import MediatorSettings
from services.ingest.app import create_app as ingest_app
from services.processor.app import create_app as processor_app
from services.processor.settings import ProcessorSettings
from services.sender.app import create_app as sender_app
from services.sender.settings import SenderSettings
from tests.apps import API_KEY, eventually, ingest_settings, running
from tests.unit.services.acl_mediator.support import CALLER, KEY, modules_file, serve


async def test_thin_slice_on_postgres_and_rabbitmq(
    database_url: str, amqp_url: str, tmp_path: Path
) -> None:
    await event_reaches_the_outbox(database_url, amqp_url, tmp_path)


async def test_thin_slice_on_sqlite_and_memory_bus(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    async with transaction(make_sessionmaker(engine)) as session:
        await seed_defaults(session)
    await engine.dispose()
    await event_reaches_the_outbox(url, f"memory://{uuid.uuid4().hex}", tmp_path)


async def event_reaches_the_outbox(db_url: str, amqp_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    async with transaction(sessions) as session:
        session.add(
            Recipient(
                tenant="default",
                user_id="u-17",
                email="u17@example.com",
                locale="en",
                roles=["designer"],
                attributes={},
            )
        )

    async with AsyncExitStack() as stack:
        # the real mediator, asking the reference module backend on Herald's own database
        backend = await stack.enter_async_context(
            serve(create_reference_app(HeraldDirectory(db_url)))
        )
        modules = modules_file(tmp_path, {"tenders": {"base_url": backend}})
        mediator_url = await stack.enter_async_context(
            serve(mediator_app(MediatorSettings(api_keys={KEY: CALLER}, acl_modules_file=modules)))
        )
        http = await stack.enter_async_context(
            running(ingest_app(ingest_settings(db_url, amqp_url)))
        )
        await stack.enter_async_context(
            running(
                processor_app(
                    ProcessorSettings(database_url=db_url, amqp_url=amqp_url, outbox_dir=outbox)
                )
            )
        )
        await stack.enter_async_context(
            running(
                sender_app(
                    SenderSettings(
                        database_url=db_url,
                        amqp_url=amqp_url,
                        outbox_dir=outbox,
                        mediator_url=mediator_url,
                        mediator_api_key=KEY,
                    )
                )
            )
        )
        # over the broker, with confirms
        producer = EventProducer.amqp(amqp_url)
        async with producer:
            await producer.emit(sample_event())
        # and over HTTP
        resp = await http.post("/v1/events", json=sample_event(), headers={"X-API-Key": API_KEY})
        assert resp.status_code == 202, resp.text

        async def two_mails_and_all_outcomes_recorded() -> bool:
            async with sessions() as session:
                open_rows = await session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
                )
                rows = await session.scalar(select(func.count()).select_from(Delivery))
            return len(list(outbox.glob("*.eml"))) == 2 and rows == 8 and open_rows == 0

        await eventually(two_mails_and_all_outcomes_recorded, timeout_s=20)

    mail = message_from_bytes(next(outbox.glob("*.eml")).read_bytes())
    assert mail["To"] == "u17@example.com"
    assert "Add fire-safety certificate" in mail["Subject"]
    assert mail["Message-ID"].startswith("<delivery-")
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 2
        # u-17 (assignee) and u-3 (owner, not in the directory: no e-mail, browser only)
        assert await session.scalar(select(func.count()).select_from(Notification)) == 4
        statuses = (await session.scalars(select(Delivery.status))).all()
    await engine.dispose()
    # u-17: e-mail + browser sent; u-3: e-mail skipped (no address), browser sent
    assert sorted(statuses) == sorted([DeliveryStatus.SENT] * 6 + [DeliveryStatus.SKIPPED] * 2)


async def test_http_rejects_bad_key_and_bad_body(database_url: str, amqp_url: str) -> None:
    settings = ingest_settings(database_url, amqp_url, api_keys={API_KEY: "tenders"})
    async with running(ingest_app(settings, consume=False)) as http:
        assert (await http.post("/v1/events", json=sample_event())).status_code == 401
        other = {**sample_event(), "source": "approvals"}
        resp = await http.post("/v1/events", json=other, headers={"X-API-Key": API_KEY})
        assert resp.status_code == 403
        bad = {**sample_event(), "priority": "urgent"}
        resp = await http.post("/v1/events", json=bad, headers={"X-API-Key": API_KEY})
        assert resp.status_code == 422
        assert "priority" in resp.text
