"""Sender settings: database, broker, the permissions mediator, and each channel's provider."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from libs.common.delivery.channels import ChannelSettings
from libs.common.runtime.metrics import MetricsSettings
from libs.common.runtime.settings import BusSettings, DatabaseSettings, MediatorClientSettings
from libs.common.templating.template_budget import TemplateSettings
from services.sender.breaker import BreakerSettings
from services.sender.providers.sms_settings import SmsSettings
from services.sender.visibility import VisibilitySettings


class SenderSettings(
    DatabaseSettings,
    BusSettings,
    MediatorClientSettings,
    VisibilitySettings,
    TemplateSettings,
    MetricsSettings,
    ChannelSettings,  # smtp_host, outbox_dir, telegram_bot_token, sms_gateway_url, plugins
    SmsSettings,
    BreakerSettings,
):
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_ca_file: Path | None = Field(
        default=None, description="PEM CA bundle to verify the relay's certificate (private CA)"
    )
    smtp_pool_size: int = Field(
        default=4, ge=1, le=64, description="SMTP connections kept open and reused"
    )
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    email_from: str = "herald@localhost"
    telegram_api_url: str | None = Field(
        default=None, description="Bot API base URL (a local Bot API server); default Telegram's"
    )
    telegram_polling: bool = Field(
        default=True, description="poll getUpdates for /start and /stop (one sender only)"
    )
    sender_batch: int = Field(default=100, ge=1, le=1000)
    sender_loops: int = Field(
        default=2, ge=1, le=16, description="batches in flight at once (PostgreSQL)"
    )
    sender_lease_s: float = Field(default=60.0, gt=0)
    sender_sweep_interval_s: float = Field(default=1.0, gt=0)
    sender_max_attempts: int = Field(default=8, ge=1)
