"""Digest scheduler settings (HERALD_DIGEST_*); every one has a working default."""

from __future__ import annotations

from pydantic import Field

from libs.common.delivery.digest_schedule import DigestDefaults


class DigestSettings(DigestDefaults):
    digest_enabled: bool = Field(default=True, description="run the digest scheduler here")
    digest_interval_s: float = Field(
        default=15.0, gt=0, description="how often due schedules are looked for"
    )
    digest_batch: int = Field(default=200, ge=1, le=2000, description="schedules per transaction")
    digest_workers: int = Field(default=2, ge=1, le=16, description="concurrent batches")
    digest_retry_s: float = Field(
        default=300.0, gt=0, description="a schedule whose digest failed is retried this later"
    )
    digest_housekeeping_interval_s: float = Field(
        default=60.0, gt=0, description="default schedules for new digest users; releases"
    )
