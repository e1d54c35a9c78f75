"""Ingest's settings: database, broker, producers' API keys, user tokens, queue bindings."""

from __future__ import annotations

from pydantic import Field

from libs.common.auth import JwtSettings
from libs.common.settings import BusSettings, DatabaseSettings, ServiceKeySettings


class IngestSettings(DatabaseSettings, BusSettings, ServiceKeySettings, JwtSettings):
    ingest_bindings: list[str] = Field(
        default=["#"], description="routing keys bound from herald.events to herald.ingest"
    )
