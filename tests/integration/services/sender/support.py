"""Sender test helpers: a real SMTP server (aiosmtpd) on port 0, a mediator speaking the real
contract over httpx.MockTransport, rows to send, and settings."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from aiosmtpd.smtp import SMTP as SmtpServerProtocol
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.clients.mediator_client import MediatorClient
from libs.common.db.models import Delivery, Event, Notification, Recipient, utcnow
from libs.common.schemas.permissions import (
    CheckRequest,
    CheckResponse,
    PermissionAnswer,
    PermissionItem,
)
from services.sender.settings import SenderSettings

MEDIATOR_KEY = "test-mediator-key-0123456789"
DROP = "drop"  # a scripted answer: close the connection instead of answering DATA


@dataclass
class SmtpSink:
    """Answers DATA from ``script`` (then 250), records accepted mails and connections."""

    script: list[str] = field(default_factory=list)
    mails: list[Message] = field(default_factory=list)
    transactions: list[str] = field(default_factory=list)  # every DATA answer given
    connections: int = 0
    logins: list[str] = field(default_factory=list)
    tls_sessions: int = 0  # mails received over STARTTLS
    raws: list[bytes] = field(default_factory=list)  # accepted mails as they came on the wire
    # (MAIL FROM, RCPT TOs, MAIL options) of each accepted mail
    envelopes: list[tuple[str, list[str], list[str]]] = field(default_factory=list)
    delay_s: float = 0.0
    port: int = 0
    _server: asyncio.Server | None = None
    _open: list[SmtpServerProtocol] = field(default_factory=list)

    async def handle_DATA(self, server: SmtpServerProtocol, session: Session, env: Envelope) -> str:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        answer = self.script.pop(0) if self.script else "250 OK"
        self.transactions.append(answer)
        if answer == DROP:
            assert server.transport is not None
            server.transport.close()
            return "250 OK"  # never reaches the client
        if answer.startswith("250"):
            assert isinstance(env.content, bytes)
            self.tls_sessions += session.ssl is not None
            self.mails.append(message_from_bytes(env.content))
            self.raws.append(env.content)
            self.envelopes.append((str(env.mail_from), list(env.rcpt_tos), list(env.mail_options)))
        return answer

    def _auth(
        self, server: SmtpServerProtocol, session: Session, env: Envelope, mech: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == b"s3cret"
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)

    async def start(
        self, auth: bool = False, tls: ssl.SSLContext | None = None, smtputf8: bool = False
    ) -> SmtpSink:
        def protocol() -> SmtpServerProtocol:
            self.connections += 1
            extra: dict[str, Any] = {"enable_SMTPUTF8": smtputf8}
            if auth:
                extra = {"authenticator": self._auth, "auth_require_tls": tls is not None}
            if tls is not None:
                extra.update(tls_context=tls, require_starttls=True)
            self._open.append(SmtpServerProtocol(self, hostname="sink.test", **extra))
            return self._open[-1]

        loop = asyncio.get_running_loop()
        # the same port again after a stop (an outage ends where it began)
        self._server = await loop.create_server(protocol, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conversation in self._open:  # a server that goes away drops its clients too
            if conversation.transport is not None:
                conversation.transport.close()
        self._open.clear()

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.mails]


Decide = Callable[[PermissionItem], PermissionAnswer]


def allow_all(_item: PermissionItem) -> PermissionAnswer:
    return PermissionAnswer(read=True)


@dataclass
class MediatorCalls:
    batches: list[CheckRequest] = field(default_factory=list)


def mediator(
    decide: Decide = allow_all, calls: MediatorCalls | None = None, down: bool = False
) -> MediatorClient:
    """The client under test, against a handler implementing the mediator's contract."""

    def handle(request: httpx.Request) -> httpx.Response:
        if down:
            raise httpx.ConnectError("connection refused", request=request)
        assert request.headers["X-API-Key"] == MEDIATOR_KEY
        body = CheckRequest.model_validate_json(request.content)
        if calls is not None:
            calls.batches.append(body)
        answers = CheckResponse(results=[decide(i) for i in body.items])
        return httpx.Response(200, json=answers.model_dump(mode="json"))

    transport = httpx.MockTransport(handle)
    return MediatorClient("http://mediator.test", MEDIATOR_KEY, transport=transport)


def _contract_http(decide: Decide) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The mediator's contract (libs/common/schemas/permissions.py), answering ``decide``."""

    async def check(request: web.Request) -> web.Response:
        if request.headers.get("X-API-Key") != MEDIATOR_KEY:
            return web.json_response({"detail": "bad key"}, status=401)
        body = CheckRequest.model_validate_json(await request.read())
        answer = CheckResponse(results=[decide(item) for item in body.items])
        return web.json_response(answer.model_dump(mode="json"))

    return check


@asynccontextmanager
async def mediator_server(decide: Decide = allow_all) -> AsyncIterator[str]:
    """A real HTTP server on 127.0.0.1:<ephemeral> speaking the mediator's contract (default:
    "may read" to everything), for subprocesses and apps that call it over HTTP."""
    app = web.Application()
    app.router.add_post("/v1/permissions/check", _contract_http(decide))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def sender_settings(database_url: str, **overrides: Any) -> SenderSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "amqp_url": "memory://sender-tests",
        "mediator_url": "http://mediator.test",
        "mediator_api_key": MEDIATOR_KEY,
        "sender_sweep_interval_s": 0.1,
        **overrides,
    }
    return SenderSettings(**values)


async def seed(
    sessions: async_sessionmaker[AsyncSession],
    users: list[str],
    channels: tuple[str, ...] = ("email",),
    *,
    chat_of: Callable[[str], str | None] = lambda _u: None,
    entity_id: str = "T-1001",
    with_recipients: bool = True,
) -> list[int]:
    """One event about tender ``entity_id``; per user a notification and one PENDING delivery
    per channel, due now. Returns the delivery ids in creation order."""
    async with sessions() as session, session.begin():
        event = Event(tenant="default", source="tenders", type="tender.updated", status="processed")
        session.add(event)
        await session.flush()
        ids: list[int] = []
        for user in users:
            if with_recipients:
                session.add(_recipient(user, chat_of(user)))
            note = _notification(event.id, user, entity_id)
            session.add(note)
            await session.flush()
            for channel in channels:
                delivery = _delivery(note, channel)
                session.add(delivery)
                await session.flush()
                ids.append(delivery.id)
    return ids


def _recipient(user: str, chat: str | None) -> Recipient:
    return Recipient(
        tenant="default",
        user_id=user,
        email=f"{user}@example.com",
        telegram_chat_id=chat,
        roles=[],
        attributes={},
    )


def _notification(event_id: str, user: str, entity_id: str) -> Notification:
    return Notification(
        tenant="default",
        event_id=event_id,
        user_id=user,
        reason="direct:assignee",
        source="tenders",
        type="tender.updated",
        entity_type="tender",
        entity_id=entity_id,
        project_id="P-42",
        title=f"Tender {entity_id} updated",
        body="Deadline moved",
    )


def _delivery(note: Notification, channel: str) -> Delivery:
    return Delivery(
        notification_id=note.id,
        tenant="default",
        user_id=note.user_id,
        source="tenders",
        channel=channel,
        status="PENDING",
        subject=f"Tender {note.entity_id}: deadline moved",
        body="The deadline is now 5 December.",
        body_html="<p>The deadline is now <b>5 December</b>.</p>",
        next_attempt_at=utcnow(),
    )


def self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 and the PEM file a client trusts it with."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "relay.pem", directory / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
