"""Ingest's settings: database, broker, producers' API keys, user tokens, queue bindings."""

from __future__ import annotations

from pydantic import Field

from libs.common.delivery.channels import ChannelSettings
from libs.common.delivery.email_address import SmtpUtf8Settings
from libs.common.runtime.metrics import MetricsSettings
from libs.common.runtime.settings import (
    AmqpProducerSettings,
    DatabaseSettings,
    MediatorClientSettings,
    ServiceKeySettings,
)
from libs.common.schemas.envelope import DEFAULT_MAX_RECIPIENTS
from libs.common.security.auth import JwtSettings
from libs.common.templating.template_budget import TemplateSettings
from services.ingest.admin.settings import AdminSettings
from services.ingest.telegram_api.settings import TelegramLinkSettings
from services.ingest.user_api.throttle import PreviewLimitSettings


class IngestSettings(
    DatabaseSettings,
    AmqpProducerSettings,  # the broker, and who may publish to it
    ServiceKeySettings,
    JwtSettings,
    TelegramLinkSettings,
    AdminSettings,
    MediatorClientSettings,  # the inbox re-checks what it shows (docs/permissions.md)
    PreviewLimitSettings,
    TemplateSettings,  # the admin's previews and save-time checks
    SmtpUtf8Settings,  # which e-mail addresses the directory accepts
    MetricsSettings,
    ChannelSettings,  # which channels have a provider: the admin refuses the others
):
    ingest_bindings: list[str] = Field(
        default=["#"], description="routing keys bound from herald.events to herald.ingest"
    )
    # One transaction per batch: 100 events cost about one commit instead of 100.
    ingest_batch_size: int = Field(default=100, ge=1, le=1000, description="events per commit")
    ingest_batch_linger_ms: float = Field(
        default=5.0, ge=0, le=1000, description="how long a batch waits to fill before storing"
    )
    # One event's fan-out is bounded at the door (DESIGN §13): 10,000 is a large company's
    # whole department; past it an event is rejected with the reason, over AMQP and HTTP.
    max_recipients_per_event: int = Field(
        default=DEFAULT_MAX_RECIPIENTS,
        ge=1,
        description="entries of an event's `recipients`, all roles together",
    )
