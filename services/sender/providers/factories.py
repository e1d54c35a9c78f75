"""The built-in channels' provider factories, named by ``libs/common/delivery/channels.py`` (a
plugin names its own the same way): each builds its provider from the sender's context."""

from __future__ import annotations

from services.sender.providers.base import Provider, ProviderContext
from services.sender.providers.browser import BrowserProvider


def email(ctx: ProviderContext) -> Provider:
    """SMTP when HERALD_SMTP_HOST is set, else the development outbox."""
    settings = ctx.settings
    if settings.smtp_host:
        from services.sender.providers.email_smtp import SmtpProvider

        return SmtpProvider(settings)
    from services.sender.providers.outbox import OutboxProvider

    return OutboxProvider(settings.outbox_dir, settings.email_from)


def telegram(ctx: ProviderContext) -> Provider:
    if ctx.bot is None:
        raise ValueError("the Telegram channel needs HERALD_TELEGRAM_BOT_TOKEN")
    # aiogram costs ~130 MiB of RSS at import: loaded only when a bot token is configured
    from services.sender.providers.telegram import TelegramProvider

    return TelegramProvider(ctx.bot)


def browser(ctx: ProviderContext) -> Provider:
    return BrowserProvider(ctx.bus, ctx.sessions)
