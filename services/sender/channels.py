"""Which providers this sender runs: one per registered channel that has a provider under its
settings (``libs/common/delivery/channels.py``); a channel without one is off."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus
from libs.common.delivery.channels import ChannelSpec, configure
from services.sender.providers.base import Provider, ProviderContext
from services.sender.settings import SenderSettings

if TYPE_CHECKING:
    # aiogram costs ~130 MiB of RSS at import: load it only when a bot token is configured
    from aiogram import Bot

log = logging.getLogger("herald.sender")


def telegram_bot(settings: SenderSettings) -> Bot | None:
    if not settings.telegram_bot_token:
        return None
    from services.sender.providers.telegram import make_bot

    return make_bot(settings.telegram_bot_token, settings.telegram_api_url)


def factory(spec: ChannelSpec) -> Callable[[ProviderContext], Provider]:
    module_name, _, attr = spec.provider.partition(":")
    found = getattr(importlib.import_module(module_name), attr)
    return cast(Callable[[ProviderContext], Provider], found)


def build_providers(
    settings: SenderSettings,
    bus: Bus,
    sessions: async_sessionmaker[AsyncSession],
    bot: Bot | None = None,
) -> dict[str, Provider]:
    channels = configure(settings.channel_plugins)
    ctx = ProviderContext(settings, bus, sessions, bot)
    providers = {
        spec.name: factory(spec)(ctx)
        for spec in channels
        if spec.name in channels.available(settings)
    }
    log.info("channels with a provider: %s", ", ".join(sorted(providers)) or "none")
    return providers
