"""E-mail over SMTP (aiosmtplib) through a small pool of reused connections.

Opening a connection costs a TCP handshake, EHLO, maybe STARTTLS and AUTH — several round
trips, more than the mail itself — so ``smtp_pool_size`` connections stay open and each mail
borrows one. Classification: a refusal inside the mail transaction (MAIL, RCPT, DATA) is
transient when 4xx and permanent when 5xx; anything about the connection itself (refused,
dropped, timed out, failed AUTH or STARTTLS) is transient — the mail is fine, the link is not.
An address that needs SMTPUTF8 goes out with it when the server's EHLO offers it; a server
that does not offer it fails that delivery for good, saying so (it will not learn it later).
"""

from __future__ import annotations

import asyncio
import time

import aiosmtplib

from services.sender.providers.base import (
    Address,
    OutgoingMessage,
    Provider,
    ProviderPermanentError,
    ProviderResult,
    ProviderTransientError,
    ProviderUnavailable,
)
from services.sender.providers.email_message import (
    build_email,
    envelope_address,
    message_id,
    needs_smtputf8,
    wire_address,
)
from services.sender.settings import SenderSettings

IDLE_PROBE_S = 30.0  # servers drop idle clients (often after 60-300 s): NOOP before reuse


class SmtpPool:
    """At most ``size`` connections; a broken one is closed and reopened on next use."""

    def __init__(self, settings: SenderSettings) -> None:
        self._s = settings
        self._idle: asyncio.LifoQueue[tuple[aiosmtplib.SMTP, float]] = asyncio.LifoQueue()
        for _ in range(settings.smtp_pool_size):
            self._idle.put_nowait((self._client(), 0.0))

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self._s.smtp_host,
            port=self._s.smtp_port,
            username=self._s.smtp_username,
            password=self._s.smtp_password,
            start_tls=self._s.smtp_starttls,
            cert_bundle=str(self._s.smtp_ca_file) if self._s.smtp_ca_file else None,
            timeout=self._s.smtp_timeout_s,
            # not socket.getfqdn(): a blocking DNS lookup on every connect
            local_hostname=self._s.email_from.rsplit("@", 1)[-1].strip(">") or "localhost",
        )

    async def acquire(self) -> aiosmtplib.SMTP:
        client, last_used = await self._idle.get()
        try:
            await self._ready(client, last_used)
        except BaseException:
            self.release(client, broken=True)
            raise
        return client

    async def _ready(self, client: aiosmtplib.SMTP, last_used: float) -> None:
        if client.is_connected and time.monotonic() - last_used > IDLE_PROBE_S:
            try:
                await client.noop()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
        if not client.is_connected:
            await client.connect()

    def release(self, client: aiosmtplib.SMTP, broken: bool = False) -> None:
        if broken and client.is_connected:
            client.close()
        self._idle.put_nowait((client, time.monotonic()))

    async def close(self) -> None:
        while not self._idle.empty():
            client, _ = self._idle.get_nowait()
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()


class SmtpProvider(Provider):
    channel = "email"

    def __init__(self, settings: SenderSettings) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpProvider needs HERALD_SMTP_HOST")
        self._s = settings
        envelope_address(settings.email_from)  # a bad HERALD_EMAIL_FROM: refuse to start
        self._pool = SmtpPool(settings)

    async def close(self) -> None:
        await self._pool.close()

    async def send(self, to: Address, message: OutgoingMessage) -> ProviderResult:
        if not to.email:
            raise ProviderPermanentError("no e-mail address")
        try:
            utf8 = needs_smtputf8(self._s.email_from, to.email)
            mail = build_email(message, self._s.email_from, to.email, utf8=utf8)
            envelope = (wire_address(self._s.email_from, utf8), wire_address(to.email, utf8))
        except ValueError as exc:  # CR/LF or worse in the address: never put on the wire
            raise ProviderPermanentError(f"bad address: {exc}") from exc
        try:
            client = await self._pool.acquire()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise ProviderUnavailable(f"SMTP connect: {exc!r}") from exc  # the relay is down
        broken = True
        try:
            if utf8 and not await _offers_smtputf8(client):
                broken = False
                raise ProviderPermanentError(
                    f"{to.email!r} needs SMTPUTF8 (RFC 6531), which the SMTP server "
                    f"{self._s.smtp_host} does not offer"
                )
            options = ["SMTPUTF8"] if utf8 else None
            await client.sendmail(envelope[0], [envelope[1]], mail, mail_options=options)
            broken = False
        except aiosmtplib.SMTPRecipientsRefused as exc:
            broken = False
            refused = exc.recipients[0]
            raise _classified(refused.code, refused.message) from exc
        except aiosmtplib.SMTPResponseException as exc:
            broken = exc.code == 421  # "closing transmission channel"
            raise _classified(exc.code, exc.message) from exc
        except (ValueError, aiosmtplib.SMTPNotSupported) as exc:
            # an address aiosmtplib will not put on the wire
            broken = False
            raise ProviderPermanentError(f"bad address: {exc}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise ProviderUnavailable(f"SMTP connection: {exc!r}") from exc
        finally:
            self._pool.release(client, broken)
        return ProviderResult(message_id(message.delivery_id, self._s.email_from))


async def _offers_smtputf8(client: aiosmtplib.SMTP) -> bool:
    """Whether the server's EHLO lists SMTPUTF8 (EHLO is sent first if it was not yet)."""
    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            return False  # an HELO-only server offers no extension at all
    return client.supports_extension("smtputf8")


def _classified(code: int, text: str) -> ProviderTransientError | ProviderPermanentError:
    if 400 <= code < 500:
        return ProviderTransientError(f"SMTP {code}: {text}")
    return ProviderPermanentError(f"SMTP {code}: {text}")
