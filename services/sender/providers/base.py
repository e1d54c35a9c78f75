"""The channel provider contract: a new channel is one subclass plus its templates."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from libs.common.errors import PermanentError, TransientError


@dataclass(frozen=True)
class Address:
    """Where one user is reached, from the directory at send time."""

    tenant: str
    user_id: str
    email: str | None = None
    telegram_chat_id: str | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    delivery_id: int
    subject: str
    body: str
    body_html: str | None = None


@dataclass(frozen=True)
class ProviderResult:
    provider_message_id: str | None = None


class ProviderTransientError(TransientError):
    """Try again later (SMTP 4xx, timeouts, 5xx, 429); ``retry_after_s`` if the peer said."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class ProviderPermanentError(PermanentError):
    """Will never work for this message (SMTP 5xx, bad address, unknown chat)."""


class Provider(abc.ABC):
    channel: str

    async def start(self) -> None:
        """Open pooled connections; called by the sender's lifespan."""

    async def close(self) -> None:
        """Release connections."""

    @abc.abstractmethod
    async def send(self, to: Address, message: OutgoingMessage) -> ProviderResult: ...
