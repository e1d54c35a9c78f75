"""Websocket gateway settings (DESIGN §14): database, broker, user tokens, mediator, limits."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from libs.common.runtime.metrics import MetricsSettings
from libs.common.runtime.settings import BusSettings, DatabaseSettings, MediatorClientSettings
from libs.common.security.auth import JwtSettings


class WebsocketSettings(
    DatabaseSettings, BusSettings, JwtSettings, MediatorClientSettings, MetricsSettings
):
    ws_feeds_file: Path | None = Field(
        default=None, description="entity feeds (YAML); unset: personal channel only"
    )
    ws_allowed_origins: list[str] = Field(
        default_factory=list, description="browser Origins allowed to connect"
    )
    ws_allow_missing_origin: bool = Field(
        default=True, description="accept clients that send no Origin (non-browser clients)"
    )
    ws_max_connections: int = Field(default=18_000, ge=1, description="per process")
    ws_retry_after_s: int = Field(default=5, ge=1, description="hint sent when full")
    ws_max_message_bytes: int = Field(default=4_096, ge=256, description="inbound frame cap")
    ws_max_subscriptions: int = Field(default=50, ge=1, description="per connection")
    ws_auth_timeout_s: float = Field(default=5.0, gt=0)
    ws_idle_timeout_s: float = Field(default=75.0, gt=0, description="no inbound message")
    ws_max_backlog_bytes: int = Field(
        default=256 * 1024, ge=1024, description="unsent bytes before a slow client is dropped"
    )
    ws_resume_limit: int = Field(
        default=200, ge=1, le=5_000, description="notifications per replay page (one read)"
    )
    ws_resume_max_items: int = Field(
        default=2_000, ge=1, description="a larger gap answers recovered: false (reload the page)"
    )
    ws_feed_recovery_minutes: float = Field(
        default=5.0, gt=0, le=1_440, description="a feed cursor older than this: recovered false"
    )
    ws_feed_recovery_events: int = Field(
        default=100, ge=1, le=10_000, description="more missed feed events: recovered false"
    )
