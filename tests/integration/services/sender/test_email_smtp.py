"""E-mail through the sender against a real SMTP server (aiosmtpd on port 0)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery, DeliveryAttempt, utcnow
from services.sender.providers.base import (
    Address,
    OutgoingMessage,
    ProviderPermanentError,
    ProviderTransientError,
)
from services.sender.providers.email_smtp import SmtpProvider
from services.sender.worker import Sender
from tests.integration.services.sender.support import (
    DROP,
    SmtpSink,
    mediator,
    seed,
    self_signed,
    sender_settings,
)


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    server = await SmtpSink().start()
    yield server
    await server.stop()


async def make_sender(
    database_url: str, sessions: async_sessionmaker[AsyncSession], sink: SmtpSink
) -> tuple[Sender, SmtpProvider]:
    settings = sender_settings(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        email_from="Herald <n@herald.test>",
    )
    provider = SmtpProvider(settings)
    return Sender(sessions, {"email": provider}, mediator(), settings), provider


async def send_round(sender: Sender) -> int:
    claimed = await sender.run_once()
    await sender.recorder.flush()
    return claimed


async def make_due_now(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(Delivery).values(next_attempt_at=utcnow()))


async def delivery(sessions: async_sessionmaker[AsyncSession], delivery_id: int) -> Delivery:
    async with sessions() as session:
        row = await session.get(Delivery, delivery_id)
        assert row is not None
        return row


async def attempts(sessions: async_sessionmaker[AsyncSession], delivery_id: int) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.attempt)
        )
        return [f"{r.attempt}:{r.outcome}" for r in rows]


async def test_content_headers_and_a_pooled_connection(
    database_url: str, sessions: async_sessionmaker[AsyncSession], sink: SmtpSink
) -> None:
    ids = await seed(sessions, [f"u-{i}" for i in range(12)])
    sender, provider = await make_sender(database_url, sessions, sink)
    assert await send_round(sender) == 12
    await provider.close()

    assert len(sink.mails) == 12
    assert sink.connections <= 4  # the pool's size, not one connection per mail
    mail = next(m for m in sink.mails if m["To"] == "u-0@example.com")
    assert mail["From"] == "Herald <n@herald.test>"
    assert mail["Subject"] == "Tender T-1001: deadline moved"
    assert mail["Message-ID"] == f"<delivery-{ids[0]}@herald.test>"
    parts = {p.get_content_type(): p.get_payload(decode=True) for p in mail.walk()}
    assert b"The deadline is now 5 December." in parts["text/plain"]
    assert b"<b>5 December</b>" in parts["text/html"]
    row = await delivery(sessions, ids[0])
    assert (row.status, row.provider_message_id) == ("SENT", mail["Message-ID"])
    assert row.sent_at is not None and row.locked_until is None


async def test_4xx_is_retried_later_with_the_same_message_id(
    database_url: str, sessions: async_sessionmaker[AsyncSession], sink: SmtpSink
) -> None:
    [one] = await seed(sessions, ["u-1"])
    sink.script = ["451 4.3.0 Mailbox busy, try later"]
    sender, provider = await make_sender(database_url, sessions, sink)
    await send_round(sender)
    row = await delivery(sessions, one)
    assert row.status == "PENDING" and "451" in (row.last_error or "")
    assert row.next_attempt_at is not None and row.next_attempt_at > utcnow()  # backoff
    assert await send_round(sender) == 0  # not due yet

    await make_due_now(sessions)
    await send_round(sender)
    await provider.close()
    row = await delivery(sessions, one)
    assert row.status == "SENT" and row.attempts == 2
    assert await attempts(sessions, one) == ["1:retry", "2:sent"]
    assert sink.transactions == ["451 4.3.0 Mailbox busy, try later", "250 OK"]
    assert sink.message_ids() == [f"<delivery-{one}@herald.test>"]


async def test_5xx_fails_for_good(
    database_url: str, sessions: async_sessionmaker[AsyncSession], sink: SmtpSink
) -> None:
    [one, two] = await seed(sessions, ["u-1", "u-2"])
    sink.script = ["550 5.1.1 No such mailbox"]
    sender, provider = await make_sender(database_url, sessions, sink)
    await send_round(sender)
    await provider.close()
    rows = {d: await delivery(sessions, d) for d in (one, two)}
    statuses = sorted(r.status for r in rows.values())
    assert statuses == ["FAILED", "SENT"]  # the connection survives a refusal
    failed = next(r for r in rows.values() if r.status == "FAILED")
    assert "550" in (failed.last_error or "")
    assert await attempts(sessions, failed.id) == ["1:failed"]


async def test_dropped_connection_is_transient_and_reconnects(
    database_url: str, sessions: async_sessionmaker[AsyncSession], sink: SmtpSink
) -> None:
    [one] = await seed(sessions, ["u-1"])
    sink.script = [DROP]
    sender, provider = await make_sender(database_url, sessions, sink)
    await send_round(sender)
    row = await delivery(sessions, one)
    assert row.status == "PENDING" and "SMTP connection" in (row.last_error or "")

    await make_due_now(sessions)
    await send_round(sender)
    await provider.close()
    assert (await delivery(sessions, one)).status == "SENT"
    assert sink.connections == 2
    assert sink.message_ids() == [f"<delivery-{one}@herald.test>"]


async def test_auth_from_settings_and_address_errors(sink: SmtpSink) -> None:
    await sink.stop()
    authed = await SmtpSink().start(auth=True)
    settings = sender_settings(
        "sqlite+aiosqlite:///unused.db",
        smtp_host="127.0.0.1",
        smtp_port=authed.port,
        smtp_username="herald",
        smtp_password="s3cret",
    )
    provider = SmtpProvider(settings)
    message = OutgoingMessage(7, "Subject", "Body")
    result = await provider.send(Address("default", "u-1", "u1@example.com"), message)
    assert result.provider_message_id == "<delivery-7@localhost>"
    assert authed.logins == ["herald"]
    with pytest.raises(ProviderPermanentError):
        await provider.send(Address("default", "u-1", None), message)
    with pytest.raises(ProviderPermanentError):
        await provider.send(Address("default", "u-1", "not an address\r\nRCPT TO:<x@y>"), message)
    await provider.close()
    await authed.stop()

    wrong = SmtpProvider(
        sender_settings(
            "sqlite+aiosqlite:///unused.db",
            smtp_host="127.0.0.1",
            smtp_port=authed.port,  # stopped: connection refused
        )
    )
    with pytest.raises(ProviderTransientError):
        await wrong.send(Address("default", "u-1", "u1@example.com"), message)
    await wrong.close()


async def test_starttls_and_auth_from_settings(tmp_path: Path) -> None:
    context, ca_file = self_signed(tmp_path)
    relay = await SmtpSink().start(auth=True, tls=context)
    settings = sender_settings(
        "sqlite+aiosqlite:///unused.db",
        smtp_host="127.0.0.1",
        smtp_port=relay.port,
        smtp_starttls=True,
        smtp_ca_file=ca_file,
        smtp_username="herald",
        smtp_password="s3cret",
    )
    provider = SmtpProvider(settings)
    await provider.send(Address("default", "u-1", "u1@example.com"), OutgoingMessage(8, "S", "B"))
    await provider.close()
    await relay.stop()
    assert (len(relay.mails), relay.tls_sessions, relay.logins) == (1, 1, ["herald"])
