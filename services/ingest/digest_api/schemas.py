"""What /v1/digest reads and answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from libs.common.delivery.digest_schedule import ALL_DAYS, DEFAULT_TIME
from libs.common.delivery.digest_schedule import validate as validate_schedule


class ScheduleIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"days": [0, 2, 4], "time": "09:00", "timezone": "Europe/Berlin"}]
        },
    )

    days: list[int] = Field(
        default=list(ALL_DAYS), max_length=7, description="0 = Monday … 6 = Sunday"
    )
    time: str = Field(default=DEFAULT_TIME, description="local HH:MM", examples=["09:00"])
    timezone: str | None = Field(
        default=None, description="IANA name; default: the user's time zone from the directory"
    )
    enabled: bool = Field(default=True, description="false: no more digests on this channel")

    # ScheduleError is a ValueError: pydantic reports it as a 422 naming the field
    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        return validate_schedule(value, DEFAULT_TIME, "UTC")

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        validate_schedule([], value, "UTC")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            validate_schedule([], DEFAULT_TIME, value)
        return value

    @model_validator(mode="after")
    def _some_day(self) -> ScheduleIn:
        if self.enabled and not self.days:
            raise ValueError("an enabled digest needs at least one day")
        return self


class ScheduleOut(BaseModel):
    channel: str = Field(examples=["email"])
    days: list[int] = Field(examples=[[0, 2, 4]])
    time: str = Field(examples=["09:00"])
    timezone: str = Field(examples=["Europe/Berlin"])
    enabled: bool
    configured: bool = Field(description="false: no schedule saved yet; these are the defaults")
    next_run_at: datetime | None = Field(description="UTC; null when switched off")
    collecting_since: datetime | None = Field(description="start of the window being collected")
    waiting: int = Field(description="items waiting for the next digest on this channel")


class ScheduleList(BaseModel):
    schedules: list[ScheduleOut]
