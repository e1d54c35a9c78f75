"""The sender as it runs: its lifespan, the browser channel on the bus, metrics, health."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Message, QueueSpec, make_bus
from libs.common.bus.topology import BROWSER_EXCHANGE
from libs.common.db.models import Delivery, Notification, utcnow
from libs.common.schemas.inbox import BrowserPush
from services.sender.providers.browser import BrowserProvider
from services.sender.worker import Sender
from tests.apps import eventually
from tests.integration.services.sender.support import mediator, seed, sender_settings


async def test_browser_push_carries_the_inbox_item_and_unread_counts(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed(sessions, ["u-1"], ("browser",), entity_id="T-1")
    [second] = await seed(sessions, ["u-1"], ("browser",), entity_id="T-2", with_recipients=False)
    async with sessions() as session, session.begin():  # u-1 read the first one already
        await session.execute(
            update(Notification).where(Notification.entity_id == "T-1").values(read_at=utcnow())
        )
        await session.execute(update(Delivery).where(Delivery.id != second).values(status="SENT"))
    bus = make_bus(f"memory://{uuid.uuid4().hex}")
    await bus.connect()
    pushes: list[BrowserPush] = []

    async def collect(message: Message) -> None:
        pushes.append(BrowserPush.model_validate_json(message.body))

    spec = QueueSpec("test.browser", [(BROWSER_EXCHANGE, "")], durable=False, exclusive=True)
    consumer = await bus.consume(spec, collect, 10)
    provider = BrowserProvider(bus, sessions)
    sender = Sender(sessions, {"browser": provider}, mediator(), sender_settings(database_url))
    await sender.run_once()
    await sender.recorder.flush()

    async def pushed() -> bool:
        return len(pushes) == 1

    await eventually(pushed)
    await consumer.cancel()
    await bus.close()
    [push] = pushes
    assert (push.kind, push.tenant, push.user_id) == ("notification", "default", "u-1")
    assert push.notification is not None and push.notification.entity_id == "T-2"
    assert push.notification.title == "Tender T-2 updated"
    assert push.counts is not None and (push.counts.total, push.counts.by_source) == (
        1,
        {"tenders": 1},
    )
    async with sessions() as session:
        row = await session.get(Delivery, second)
        assert row is not None and (row.status, row.provider_message_id) == (
            "SENT",
            f"browser-{second}",
        )


async def test_running_app_sends_serves_metrics_and_stops_cleanly(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    from services.sender.app import create_app
    from tests.apps import running

    ids = await seed(sessions, ["u-1", "u-2"])
    settings = sender_settings(database_url, outbox_dir=tmp_path, mediator_url="http://127.0.0.1:9")
    async with running(create_app(settings)) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}

        async def deferred() -> bool:  # nothing listens on port 9: never sent blind
            async with sessions() as session:
                errors = (await session.scalars(select(Delivery.last_error))).all()
            return all(e and "permission check unavailable" in e for e in errors)

        await eventually(deferred)
        assert list(tmp_path.glob("*.eml")) == []
        metrics = (await http.get("/metrics")).text
        assert 'herald_sender_deferred_total{channel="email"}' in metrics
        assert "herald_sender_due_deliveries" in metrics
    async with sessions() as session:
        statuses = set((await session.scalars(select(Delivery.status))).all())
    assert statuses == {"PENDING"} and len(ids) == 2  # a clean stop leaves nothing SENDING


async def test_the_embedded_default_sqlite_claims_retries_and_sends(tmp_path: Path) -> None:
    from libs.common.db.engine import make_engine, make_sessionmaker
    from libs.common.db.migrate import upgrade_async
    from services.sender.providers.email_smtp import SmtpProvider
    from tests.integration.services.sender.support import SmtpSink

    url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    [one, two] = await seed(sessions, ["u-1", "u-2"])
    sink = await SmtpSink(script=["451 4.3.0 later"]).start()
    settings = sender_settings(url, smtp_host="127.0.0.1", smtp_port=sink.port)
    provider = SmtpProvider(settings)
    sender = Sender(sessions, {"email": provider}, mediator(), settings)
    for _ in range(2):
        await sender.run_once()
        await sender.recorder.flush()
        async with sessions() as session, session.begin():  # the retry is due at once
            await session.execute(update(Delivery).values(next_attempt_at=utcnow()))
    await provider.close()
    await sink.stop()
    async with sessions() as session:
        rows = {d.id: (d.status, d.attempts) for d in (await session.scalars(select(Delivery)))}
    await engine.dispose()
    assert sorted(rows.values()) == [("SENT", 1), ("SENT", 2)] and set(rows) == {one, two}
    assert len(sink.mails) == 2
