"""Which providers this sender runs, from its settings: a channel without settings is off."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus
from services.sender.providers.base import Provider
from services.sender.providers.browser import BrowserProvider
from services.sender.providers.email_smtp import SmtpProvider
from services.sender.providers.outbox import OutboxProvider
from services.sender.settings import SenderSettings

if TYPE_CHECKING:
    # aiogram costs ~130 MiB of RSS at import: load it only when a bot token is configured
    from aiogram import Bot


def telegram_bot(settings: SenderSettings) -> Bot | None:
    if not settings.telegram_bot_token:
        return None
    from services.sender.providers.telegram import make_bot

    return make_bot(settings.telegram_bot_token, settings.telegram_api_url)


def build_providers(
    settings: SenderSettings,
    bus: Bus,
    sessions: async_sessionmaker[AsyncSession],
    bot: Bot | None = None,
) -> dict[str, Provider]:
    providers: dict[str, Provider] = {"browser": BrowserProvider(bus, sessions)}
    if settings.smtp_host:
        providers["email"] = SmtpProvider(settings)
    elif settings.outbox_dir:
        providers["email"] = OutboxProvider(settings.outbox_dir, settings.email_from)
    if bot is not None:
        from services.sender.providers.telegram import TelegramProvider

        providers["telegram"] = TelegramProvider(bot)
    return providers
