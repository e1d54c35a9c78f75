"""E-mail over SMTP (aiosmtplib)."""

from __future__ import annotations

import aiosmtplib

from services.sender.providers.base import (
    Address,
    OutgoingMessage,
    Provider,
    ProviderPermanentError,
    ProviderResult,
    ProviderTransientError,
)
from services.sender.providers.email_message import build_email, message_id
from services.sender.settings import SenderSettings

SMTP_TIMEOUT_S = 30


class SmtpProvider(Provider):
    channel = "email"

    def __init__(self, settings: SenderSettings) -> None:
        assert settings.smtp_host
        self._s = settings

    async def send(self, to: Address, message: OutgoingMessage) -> ProviderResult:
        if not to.email:
            raise ProviderPermanentError("no e-mail address")
        mail = build_email(message, self._s.email_from, to.email)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self._s.smtp_host,
                port=self._s.smtp_port,
                username=self._s.smtp_username,
                password=self._s.smtp_password,
                start_tls=self._s.smtp_starttls,
                timeout=SMTP_TIMEOUT_S,
            )
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise ProviderTransientError(f"SMTP {exc.code}: {exc.message}") from exc
            raise ProviderPermanentError(f"SMTP {exc.code}: {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise ProviderTransientError(f"SMTP: {exc!r}") from exc
        return ProviderResult(message_id(message.delivery_id, self._s.email_from))
