"""The channel provider contract: a new channel is one subclass plus its templates."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from libs.common.runtime.errors import PermanentError, TransientError


@dataclass(frozen=True)
class Address:
    """Where one user is reached, from the directory at send time."""

    tenant: str
    user_id: str
    email: str | None = None
    telegram_chat_id: str | None = None
    phone: str | None = None
    address: str | None = None  # this channel's own (ChannelSpec.address), for plugins


@dataclass(frozen=True)
class OutgoingMessage:
    delivery_id: int
    subject: str
    body: str
    body_html: str | None = None
    notification_id: int | None = None  # None for a digest
    sender_name: str | None = None  # e-mail: the tenant's From name (its e-mail layout)


@dataclass(frozen=True)
class ProviderResult:
    provider_message_id: str | None = None


class ProviderTransientError(TransientError):
    """Try again later (SMTP 4xx, timeouts, 5xx, 429); ``retry_after_s`` if the peer said."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class ProviderUnavailable(ProviderTransientError):
    """The provider as a whole is unreachable (connection refused, timed out, the broker is
    down): not this delivery's fault. The circuit breaker counts these and, once open, defers
    the channel's deliveries without spending their attempts (services/sender/breaker.py)."""


class ProviderPermanentError(PermanentError):
    """Will never work for this message (SMTP 5xx, bad address, unknown chat)."""


class RecipientUnreachable(ProviderPermanentError):
    """The address itself is dead (the user blocked the bot, the chat is gone): the delivery
    fails and the address is unlinked, so later events skip this channel for the user."""


class ProviderDeferred(TransientError):
    """Not attempted now (a rate limit would be broken): try again in ``delay_s``; this does
    not count as an attempt."""

    def __init__(self, reason: str, delay_s: float) -> None:
        super().__init__(reason)
        self.delay_s = delay_s


@dataclass(frozen=True)
class ProviderContext:
    """What a channel's provider factory (``ChannelSpec.provider``) is built from."""

    settings: Any  # the sender's settings; a plugin may read its own instead
    bus: Any  # libs.common.bus.Bus: the browser publishes to it
    sessions: Any  # async_sessionmaker: the browser reveals inbox items
    bot: Any = None  # aiogram Bot, shared with the Telegram linker; None without a token


class Provider(abc.ABC):
    """``send`` returns on success, raises ProviderTransientError (retry with backoff),
    ProviderPermanentError (FAILED) or ProviderDeferred (later, not an attempt)."""

    channel: str

    async def start(self) -> None:
        """Open pooled connections; called by the sender's lifespan."""

    async def close(self) -> None:
        """Release connections."""

    @abc.abstractmethod
    async def send(self, to: Address, message: OutgoingMessage) -> ProviderResult: ...
