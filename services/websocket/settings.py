"""Websocket gateway settings."""

from __future__ import annotations

from pydantic import Field

from libs.common.settings import BusSettings, DatabaseSettings


class WebsocketSettings(DatabaseSettings, BusSettings):
    ws_allowed_origins: list[str] = Field(default_factory=list)
