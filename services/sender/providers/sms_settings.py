"""The SMS gateway's settings (HERALD_SMS_*); ``HERALD_SMS_GATEWAY_URL`` itself, which turns
the channel on, is in ``libs/common/delivery/channels.ChannelSettings`` so every service sees it."""

from __future__ import annotations

from pydantic import Field

from libs.common.runtime.settings import HeraldSettings


class SmsSettings(HeraldSettings):
    sms_gateway_token: str | None = Field(
        default=None, description="sent as Authorization: Bearer <token>"
    )
    sms_rate_per_s: float = Field(
        default=100.0, gt=0, description="messages per second to the gateway, per sender"
    )
    sms_pool_size: int = Field(default=32, ge=1, le=1024, description="HTTP connections kept")
    sms_timeout_s: float = Field(default=10.0, gt=0, description="one gateway call, in all")
    sms_max_segments: int = Field(
        default=3, ge=1, le=10, description="longer texts are cut with an ellipsis"
    )
