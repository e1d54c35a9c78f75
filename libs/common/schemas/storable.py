"""Input that PostgreSQL can store, checked where requests are validated.

JSON and Python strings may hold the NUL character; PostgreSQL ``text`` and ``jsonb`` cannot.
A datetime in year 1 with a positive offset is year 0 in UTC, which no driver can send. Either
reached the database as an error, and the caller got a 500 instead of a 422 naming the field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, model_validator

NUL = "\x00"
NUL_MESSAGE = "text must not contain the NUL character (\\u0000)"


def contains_nul(value: object) -> bool:
    """True when any string in a JSON-like value (keys included) holds NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(v) for v in value)
    return False


def no_nul(value: str) -> str:
    if NUL in value:
        raise ValueError(NUL_MESSAGE)
    return value


def in_utc_range(value: datetime) -> datetime:
    """Aware datetimes must stay within years 1-9999 once converted to UTC."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("date out of range once converted to UTC") from exc
    return value


StorableText = Annotated[str, AfterValidator(no_nul)]
StorableDatetime = Annotated[datetime, AfterValidator(in_utc_range)]


class StorableModel(BaseModel):
    """A request model whose every string, however deeply nested, is free of NUL."""

    @model_validator(mode="before")
    @classmethod
    def _no_nul_anywhere(cls, data: Any) -> Any:
        if contains_nul(data):
            raise ValueError(NUL_MESSAGE)
        return data
