"""What /v1/telegram/link answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class LinkOut(BaseModel):
    url: str = Field(examples=["https://t.me/herald_bot?start=3q2-7w…"])
    expires_at: datetime


class LinkState(BaseModel):
    linked: bool
