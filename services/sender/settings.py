"""Sender settings: database, broker, and each channel's provider."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from libs.common.settings import BusSettings, DatabaseSettings


class SenderSettings(DatabaseSettings, BusSettings):
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    email_from: str = "herald@localhost"
    outbox_dir: Path | None = Field(
        default=None, description="development: write e-mails here instead of SMTP"
    )
    sender_batch: int = Field(default=100, ge=1, le=1000)
    sender_lease_s: float = Field(default=60.0, gt=0)
    sender_sweep_interval_s: float = Field(default=1.0, gt=0)
    sender_max_attempts: int = Field(default=8, ge=1)
