"""Processor settings."""

from __future__ import annotations

from pydantic import Field

from libs.common.settings import BusSettings, DatabaseSettings


class ProcessorSettings(DatabaseSettings, BusSettings):
    processor_sweep_interval_s: float = Field(default=2.0, gt=0)
    processor_sweep_age_s: float = Field(
        default=3.0, ge=0, description="events still received after this long are swept"
    )
    processor_max_attempts: int = Field(default=5, ge=1)
    processor_default_channels: list[str] = Field(default=["email", "browser"])
