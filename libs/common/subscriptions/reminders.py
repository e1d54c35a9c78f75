"""Deadline reminders (DESIGN §5.2): what a subscription's ``remind`` is, and when it fires.

``{"field": "deadline", "days_before": 7}`` (``"in"`` as in a condition) asks for one
reminder per matching entity, ``days_before`` days before the date in that field: at that
moment for a datetime, at ``REMIND_LOCAL_TIME`` in the subscriber's zone for a calendar date.
The processor keeps them in ``reminders`` (services/processor/reminders.py) and fires them
through the normal pipeline (reminder_firing.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.common.subscriptions.filters import (
    DEFAULT_SCOPE,
    MAX_PATH_SEGMENTS,
    MAX_SEGMENT_CHARS,
    Scope,
    When,
    as_number,
    instant,
    path_problem,
)

# A reminder about a calendar date comes at the start of the working day, in the user's zone:
# at midnight it would wait unread anyway (and buzz a phone at night on Telegram or SMS).
REMIND_LOCAL_TIME = time(9, 0)
MAX_DAYS_BEFORE = 365
REMINDER_TYPE = "reminder.due"  # the event type a reminder's notification carries


class Remind(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: Scope = Field(default=DEFAULT_SCOPE, alias="in", description="as in a condition")
    field: str = Field(
        min_length=1,
        max_length=MAX_PATH_SEGMENTS * (MAX_SEGMENT_CHARS + 1),
        description="the date to be reminded of (a dotted path)",
        examples=["deadline"],
    )
    days_before: int = Field(ge=0, le=MAX_DAYS_BEFORE, examples=[7])

    @model_validator(mode="before")
    @classmethod
    def _coerced(cls, data: Any) -> Any:
        """A day count as the coercion rules read one (``"7"`` is 7)."""
        if isinstance(data, dict) and isinstance(data.get("days_before"), str):
            number = as_number(data["days_before"])
            if number is not None and number == int(number):
                return {**data, "days_before": int(number)}
        return data

    @model_validator(mode="after")
    def _path(self) -> Remind:
        problem = path_problem(self.scope, self.field)
        if problem:
            raise ValueError(problem)
        return self

    def stored(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "days_before": self.days_before}
        return out if self.scope == DEFAULT_SCOPE else {"in": self.scope, **out}


def remind_at(due: When, days_before: int, zone: tzinfo) -> datetime:
    """The UTC moment to remind someone in ``zone`` of ``due``."""
    if isinstance(due, datetime):
        return instant(due, zone).astimezone(UTC) - timedelta(days=days_before)
    day = due - timedelta(days=days_before)
    return datetime.combine(day, REMIND_LOCAL_TIME, tzinfo=zone).astimezone(UTC)


def due_text(due: When) -> str:
    """How a due date is kept (a changed text is a changed date: the reminder moves)."""
    return due.isoformat()
