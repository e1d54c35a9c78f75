"""Processor settings."""

from __future__ import annotations

from pydantic import Field

from libs.common.delivery.channels import ChannelSettings
from libs.common.runtime.metrics import MetricsSettings
from libs.common.runtime.settings import BusSettings, DatabaseSettings
from libs.common.schemas.envelope import DEFAULT_MAX_RECIPIENTS
from libs.common.templating.template_budget import TemplateSettings
from services.processor.retention import RetentionSettings


class ProcessorSettings(
    DatabaseSettings,
    BusSettings,
    TemplateSettings,
    MetricsSettings,
    ChannelSettings,
    RetentionSettings,  # HERALD_RETENTION_*: the sweeper runs in the processor
):
    processor_sweep_interval_s: float = Field(default=2.0, gt=0)
    processor_sweep_age_s: float = Field(
        default=3.0, ge=0, description="events still received after this long are swept"
    )
    processor_max_attempts: int = Field(default=5, ge=1)
    processor_default_channels: list[str] = Field(default=["email", "browser"])
    processor_batch_max: int = Field(
        default=50, ge=1, le=1000, description="events per transaction when nudges pile up"
    )
    processor_batch_linger_ms: float = Field(
        default=5.0, ge=0, le=1000, description="how long a batch waits to fill up"
    )
    processor_concurrency: int = Field(
        default=4, ge=1, le=64, description="transactions in flight (1 on SQLite)"
    )
    processor_catalog_ttl_s: float = Field(
        default=2.0, ge=0, description="how long event types and templates are cached"
    )
    directory_url: str | None = Field(
        default=None, description="an external user service; the recipients table otherwise"
    )
    directory_api_key: str | None = Field(default=None, description="sent as X-API-Key")
    directory_ttl_s: float = Field(default=300.0, gt=0)
    directory_timeout_s: float = Field(default=2.0, gt=0)
    processor_reminder_interval_s: float = Field(
        default=30.0, gt=0, description="how often due deadline reminders are looked for"
    )
    processor_reminder_batch: int = Field(
        default=100, ge=1, le=1000, description="reminders sent per transaction"
    )
    processor_escalation_interval_s: float = Field(
        default=15.0, gt=0, description="how often due escalation steps are looked for"
    )
    processor_escalation_batch: int = Field(
        default=100, ge=1, le=1000, description="escalation steps taken per transaction"
    )
    max_recipients_per_event: int = Field(
        default=DEFAULT_MAX_RECIPIENTS,
        ge=1,
        description="an event's recipients and the people its audience names, together",
    )
