"""E-mail as the RFCs want it, checked on the bytes a real SMTP server (aiosmtpd) received:
headers folded (RFC 5322: no line over 998 bytes; RFC 2047: encoded words of at most 75
characters) and internationalised addresses over SMTPUTF8 (RFC 6531) when the server offers
it — a clear permanent failure when it does not."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery, Recipient
from services.sender.providers.base import Address, OutgoingMessage, ProviderPermanentError
from services.sender.providers.email_smtp import SmtpProvider
from services.sender.worker import Sender
from tests.integration.services.sender.support import SmtpSink, mediator, seed, sender_settings

MAX_LINE_BYTES = 998  # RFC 5322 §2.1.1, without the CRLF
MAX_ENCODED_WORD = 75  # RFC 2047 §2
ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
LONG_SUBJECT = "Замечание к разделу «Подвал»: " + " ".join(["пожарная безопасность"] * 22)
IDN = "пётр@пример.рф"


def provider(sink: SmtpSink) -> SmtpProvider:
    settings = sender_settings(
        "sqlite+aiosqlite:///unused.db",
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        email_from="Геральд — уведомления <herald@herald.test>",
    )
    return SmtpProvider(settings)


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    server = await SmtpSink().start()
    yield server
    await server.stop()


@pytest.fixture
async def utf8_sink() -> AsyncIterator[SmtpSink]:
    server = await SmtpSink().start(smtputf8=True)
    yield server
    await server.stop()


def head_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def parsed(raw: bytes) -> EmailMessage:
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


async def test_a_long_cyrillic_subject_is_folded_by_the_rules(sink: SmtpSink) -> None:
    assert len(LONG_SUBJECT) >= 500
    smtp = provider(sink)
    await smtp.send(
        Address("default", "u-1", "u1@example.com"),
        OutgoingMessage(41, LONG_SUBJECT, "Текст", "<p>Текст</p>"),
    )
    await smtp.close()
    [raw] = sink.raws
    assert max(len(line) for line in raw.split(b"\r\n")) <= MAX_LINE_BYTES
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only, no bare LF
    words = [w for line in head_lines(raw) for w in ENCODED_WORD.findall(line)]
    assert words and max(len(w) for w in words) <= MAX_ENCODED_WORD
    mail = parsed(raw)
    assert not [d for part in mail.walk() for d in part.defects]  # well-formed MIME
    assert mail["Subject"] == LONG_SUBJECT
    assert mail["From"].addresses[0].display_name == "Геральд — уведомления"
    assert mail["Message-ID"] == "<delivery-41@herald.test>"
    assert mail.get_body(("plain",)).get_content().strip() == "Текст"  # type: ignore[union-attr]
    assert mail.get_body(("html",)).get_content().strip() == "<p>Текст</p>"  # type: ignore[union-attr]


async def test_an_internationalised_address_goes_over_smtputf8(utf8_sink: SmtpSink) -> None:
    smtp = provider(utf8_sink)
    await smtp.send(Address("default", "u-1", IDN), OutgoingMessage(42, LONG_SUBJECT, "Текст"))
    await smtp.close()
    [(_sender, recipients, options)] = utf8_sink.envelopes
    assert recipients == [IDN] and "SMTPUTF8" in [o.upper() for o in options]
    [raw] = utf8_sink.raws
    assert max(len(line) for line in raw.split(b"\r\n")) <= MAX_LINE_BYTES
    assert f"To: {IDN}".encode() in head_lines(raw)  # UTF-8 as it is, not encoded words
    assert parsed(raw)["Subject"] == LONG_SUBJECT


async def test_only_the_domain_internationalised_needs_no_smtputf8(sink: SmtpSink) -> None:
    smtp = provider(sink)
    await smtp.send(Address("default", "u-1", "petr@пример.рф"), OutgoingMessage(43, "S", "B"))
    await smtp.close()
    [(_sender, recipients, options)] = sink.envelopes
    assert recipients == ["petr@xn--e1afmkfd.xn--p1ai"] and "SMTPUTF8" not in options
    assert parsed(sink.raws[0])["To"] == "petr@xn--e1afmkfd.xn--p1ai"


async def test_without_server_support_the_delivery_fails_for_good_saying_why(
    database_url: str, sessions: async_sessionmaker[AsyncSession], sink: SmtpSink
) -> None:
    [one] = await seed(sessions, ["u-1"])
    async with sessions() as session, session.begin():
        await session.execute(update(Recipient).values(email=IDN))
    smtp = provider(sink)
    with pytest.raises(ProviderPermanentError, match="SMTPUTF8"):
        await smtp.send(Address("default", "u-1", IDN), OutgoingMessage(44, "S", "B"))
    settings = sender_settings(database_url, smtp_host="127.0.0.1", smtp_port=sink.port)
    sender = Sender(sessions, {"email": smtp}, mediator(), settings)
    await sender.run_once()
    await sender.recorder.flush()
    await smtp.close()
    async with sessions() as session:
        row = await session.get(Delivery, one)
    assert row is not None and row.status == "FAILED" and row.attempts == 1
    assert "SMTPUTF8" in (row.last_error or "") and IDN in (row.last_error or "")
    assert sink.raws == []
