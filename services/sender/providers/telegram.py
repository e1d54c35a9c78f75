"""Telegram via aiogram, pointed at HERALD_TELEGRAM_API_URL (a local Bot API server) or at
Telegram itself. Plain text only: a template never breaks on Markdown/HTML parse errors."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from services.sender.providers.base import (
    Address,
    OutgoingMessage,
    Provider,
    ProviderPermanentError,
    ProviderResult,
    ProviderTransientError,
    ProviderUnavailable,
    RecipientUnreachable,
)
from services.sender.providers.rate_limit import SendSchedule, take_slot

SEND_TIMEOUT_S = 15.0
MAX_TEXT_CHARS = 4096  # Bot API limit for sendMessage text


def make_bot(token: str, api_url: str | None, timeout_s: float = SEND_TIMEOUT_S) -> Bot:
    api = TelegramAPIServer.from_base(api_url) if api_url else PRODUCTION
    return Bot(token, session=AiohttpSession(api=api, timeout=timeout_s))


def message_text(message: OutgoingMessage) -> str:
    text = f"{message.subject}\n\n{message.body}" if message.subject else message.body
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"


class TelegramProvider(Provider):
    channel = "telegram"

    def __init__(self, bot: Bot, schedule: SendSchedule | None = None) -> None:
        self._bot = bot
        self._schedule = schedule or SendSchedule()

    async def close(self) -> None:
        await self._bot.session.close()

    async def send(self, to: Address, message: OutgoingMessage) -> ProviderResult:
        chat = to.telegram_chat_id
        if not chat:
            raise ProviderPermanentError("no linked Telegram chat")
        await take_slot(self._schedule, chat, "Telegram")
        try:
            sent = await self._bot.send_message(chat_id=_chat_id(chat), text=message_text(message))
        except TelegramRetryAfter as exc:
            self._schedule.pause_chat(chat, exc.retry_after)
            raise ProviderTransientError(f"Telegram 429: {exc.message}", exc.retry_after) from exc
        except (TelegramForbiddenError, TelegramMigrateToChat) as exc:  # blocked, deactivated
            raise RecipientUnreachable(f"Telegram: {exc.message}") from exc
        except TelegramBadRequest as exc:
            if "chat not found" in exc.message.lower():
                raise RecipientUnreachable(f"Telegram: {exc.message}") from exc
            raise ProviderPermanentError(f"Telegram: {exc.message}") from exc  # this message
        except (TelegramNetworkError, TelegramServerError, OSError, TimeoutError) as exc:
            raise ProviderUnavailable(f"Telegram unreachable: {exc!r}") from exc  # the breaker's
        except TelegramAPIError as exc:
            # also 401/404 (a wrong token): the message is not at fault
            raise ProviderTransientError(f"Telegram: {exc!r}") from exc
        return ProviderResult(f"{sent.chat.id}:{sent.message_id}")


def _chat_id(chat: str) -> int | str:
    return int(chat) if chat.lstrip("-").isdigit() else chat
