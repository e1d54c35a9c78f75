"""The bot the deep links name, and how long a link works."""

from __future__ import annotations

from pydantic import Field

from libs.common.runtime.settings import HeraldSettings


class TelegramLinkSettings(HeraldSettings):
    telegram_bot_username: str | None = Field(
        default=None, description="the bot's @username (without @) for t.me deep links"
    )
    telegram_link_ttl_s: int = Field(default=900, ge=60, le=86_400)
