"""Saved-filter conditions (DESIGN §5.2): what a condition is and how it is validated.

A filter is a list of conditions, all of which must hold:
``{"in": "attributes", "field": "deadline", "op": "within_days", "value": 7}``. ``in`` says
where the condition looks (the entity's ``attributes``, the default; the event's ``payload``;
or the ``event`` itself: its type, priority, actor, project...), ``field`` is a dotted path
(``location.floor``). Evaluation lives in ``filter_match.py``; both the processor and the
subscription preview use it, on filters validated here.

The coercion rules are here, once, for validation and evaluation alike (docs/filters.md):
a *number* is a JSON number or a string holding a decimal number (``"2500000"``, ``"-3.5"``,
``"1e6"``), never a boolean; a *date* is a string starting ``YYYY-MM-DD``: a calendar date
(``2026-12-05``) or an ISO datetime (``2026-12-05T18:00:00+03:00``; without a zone it is
the user's local time).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

Op = Literal[
    "eq", "ne", "in", "not_in", "gte", "lte", "between",
    "within_days", "due_within_days", "overdue", "older_than_days",
    "users_any", "roles_any", "companies_any",
]  # fmt: skip
DAY_COUNT_OPS = frozenset({"within_days", "due_within_days", "older_than_days"})
RANGE_OPS = frozenset({"gte", "lte", "between"})
Scope = Literal["attributes", "payload", "event"]
DEFAULT_SCOPE: Scope = "attributes"
# What ``"in": "event"`` reaches: the envelope's own fields (DESIGN §3), by their dotted names
EVENT_FIELDS = frozenset(
    {"type", "source", "priority", "project_id", "actor.id", "entity.type", "entity.id",
     "occurred_at"}
)  # fmt: skip
PERSON_OPS = frozenset({"users_any", "roles_any", "companies_any"})
MAX_CONDITIONS = 20
MAX_LIST = 500
MAX_DAYS = 3650  # ten years: a day count beyond it is a typo
# A person the directory has no zone for is taken to be where recipients.timezone's default is
DEFAULT_TIMEZONE = "Europe/Moscow"
MAX_PATH_SEGMENTS = 8  # a.b.c…: deeper documents are rare, and every level is a lookup
MAX_SEGMENT_CHARS = 64
MAX_NUMBER_CHARS = 64  # a numeric string longer than this is not a quantity anyone types
Scalar = str | int | float | bool


@dataclass(frozen=True)
class Person:
    """What ``roles_any`` / ``companies_any`` know about someone (from the directory)."""

    roles: frozenset[str] = frozenset()
    company_id: str | None = None


class FilterError(ValueError):
    """A filter that cannot be saved; ``index`` names the bad condition."""

    def __init__(self, index: int | None, message: str) -> None:
        where = f"condition {index}: " if index is not None else ""
        super().__init__(f"{where}{message}")
        self.index = index
        self.message = message


_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
When = date | datetime  # a calendar date, or a moment (naive: in the user's zone)


def as_number(value: Any) -> int | float | None:
    """A JSON number, or a string holding a decimal number; None for anything else (booleans,
    NaN, infinities, ``"1_000"``, ``"0x10"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and len(value) <= MAX_NUMBER_CHARS and _NUMBER.match(value):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def as_when(value: Any) -> When | None:
    """A date string (``YYYY-MM-DD``) as a date, an ISO datetime string as a datetime (aware
    when it names its zone); None for anything else (numbers are never dates)."""
    if isinstance(value, date):  # datetime included
        return value
    if not (isinstance(value, str) and _DATE.match(value)):
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        return None


def local_day(when: When, zone: tzinfo) -> date:
    """The calendar day ``when`` falls on for someone in ``zone``."""
    if isinstance(when, datetime):
        return when.astimezone(zone).date() if when.tzinfo else when.date()
    return when


def instant(when: datetime, zone: tzinfo) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=zone)


def compare_when(a: When, b: When, zone: tzinfo) -> int:
    """-1/0/1: two datetimes as instants; otherwise as calendar days in ``zone``."""
    if isinstance(a, datetime) and isinstance(b, datetime):
        x, y = instant(a, zone), instant(b, zone)
        return (x > y) - (x < y)
    d, e = local_day(a, zone), local_day(b, zone)
    return (d > e) - (d < e)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _not_finite(value: Any) -> bool:
    """NaN or ±Infinity (JSON ``NaN``, ``Infinity``, ``1e400``): stored JSON has no such
    number (it would become null), and NaN compares false with everything."""
    if isinstance(value, list):
        return any(_not_finite(x) for x in value)
    return isinstance(value, float) and not math.isfinite(value)


def path_problem(scope: str, field: str) -> str | None:
    """Why ``field`` is not a path ``scope`` can look up, or None when it is."""
    if scope == "event":
        if field not in EVENT_FIELDS:
            return f"the event has no field {field!r}; it has {sorted(EVENT_FIELDS)}"
        return None
    segments = field.split(".")
    if len(segments) > MAX_PATH_SEGMENTS:
        return f"at most {MAX_PATH_SEGMENTS} levels in a dotted path"
    if not all(0 < len(s) <= MAX_SEGMENT_CHARS for s in segments):
        return f"a dotted path of names of 1 to {MAX_SEGMENT_CHARS} characters, like a.b.c"
    return None


def _bound(value: Any) -> Any:
    """A range bound as the rules read it: a number (numeric strings become numbers), a date
    string as it was written, or None when it is neither."""
    if type(value) in (int, float):  # stored filters: already a number (the common case)
        return value if math.isfinite(value) else None
    number = as_number(value)
    if number is not None:
        return number
    return value if as_when(value) is not None else None


def _day_count(value: Any) -> int | None:
    number = as_number(value)
    if number is None or number != int(number) or not 0 <= number <= MAX_DAYS:
        return None
    return int(number)


def normalized_value(op: str, v: Any) -> Any:
    """The value as it is stored: the coercion rules applied where the op wants a number, a
    date or a day count; unchanged (and refused later) when they do not apply."""
    if op in ("gte", "lte"):
        bound = _bound(v)
        return v if bound is None else bound
    if op == "between" and isinstance(v, list):
        bounds = [_bound(x) for x in v]
        return v if None in bounds else bounds
    if op in DAY_COUNT_OPS:
        if type(v) is int:  # stored filters: already a count
            return v
        count = _day_count(v)
        return v if count is None else count
    if op == "overdue" and v is None:
        return True
    return v


def _range_problem(op: str, v: Any) -> str | None:
    if op in ("gte", "lte"):
        return None if _bound(v) is not None else f"{op} needs a number or an ISO date"
    if not (isinstance(v, list) and len(v) == 2 and all(_bound(x) is not None for x in v)):
        return "between needs [low, high], both numbers or both ISO dates"
    lo, hi = v
    if is_number(lo) != is_number(hi):
        return "between needs both bounds of the same kind"
    if is_number(lo):
        return "between needs low <= high" if lo > hi else None
    low, high = as_when(lo), as_when(hi)
    assert low is not None and high is not None  # both passed _bound
    return "between needs low <= high" if compare_when(low, high, UTC) > 0 else None


def _value_problem(op: str, v: Any) -> str | None:
    if _not_finite(v):
        return f"{op} needs finite numbers (no NaN or Infinity)"
    if op in ("eq", "ne") and not isinstance(v, Scalar):
        return f"{op} needs a single value (string, number or boolean)"
    if op in ("in", "not_in") and not (
        isinstance(v, list) and v and all(isinstance(x, Scalar) for x in v)
    ):
        return f"{op} needs a non-empty list of values"
    if op in RANGE_OPS:
        return _range_problem(op, v)
    if op in DAY_COUNT_OPS and _day_count(v) is None:
        return f"{op} needs a whole number of days, 0 to {MAX_DAYS}"
    if op == "overdue" and not isinstance(v, bool):
        return "overdue needs true (the date has passed) or false (it has not), or no value"
    if op in PERSON_OPS and not (
        isinstance(v, list) and v and all(isinstance(x, str) and x for x in v)
    ):
        return f"{op} needs a non-empty list of ids"
    if isinstance(v, list) and len(v) > MAX_LIST:
        return f"at most {MAX_LIST} values"
    return None


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: Scope = Field(
        default=DEFAULT_SCOPE,
        alias="in",
        description="where the field is: the entity's attributes (default), the event's "
        f"payload, or the event itself ({', '.join(sorted(EVENT_FIELDS))})",
    )
    field: str = Field(
        min_length=1,
        max_length=MAX_PATH_SEGMENTS * (MAX_SEGMENT_CHARS + 1),
        description="a name, or a dotted path into nested objects (location.floor)",
        examples=["deadline"],
    )
    op: Op
    value: Any = Field(default=None, examples=[7])

    @model_validator(mode="before")
    @classmethod
    def _coerced(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("op"), str):
            return {**data, "value": normalized_value(data["op"], data.get("value"))}
        return data

    @model_validator(mode="after")
    def _fits(self) -> Condition:
        problem = path_problem(self.scope, self.field) or _value_problem(self.op, self.value)
        if problem:
            raise ValueError(problem)
        return self

    def stored(self) -> dict[str, Any]:
        """The JSON kept in ``subscriptions.filter``: ``in`` only when it is not the default,
        so filters saved before scopes existed read back unchanged."""
        out: dict[str, Any] = {"field": self.field, "op": self.op, "value": self.value}
        if self.scope != DEFAULT_SCOPE:
            out = {"in": self.scope, **out}
        return out


_CONDITIONS = TypeAdapter(list[Condition])


def parse_filter(raw: Any) -> list[Condition]:
    """Validate a stored or submitted filter; raises FilterError naming the bad condition."""
    if not isinstance(raw, list):
        raise FilterError(None, "a filter is a list of conditions")
    if len(raw) > MAX_CONDITIONS:
        raise FilterError(None, f"at most {MAX_CONDITIONS} conditions")
    try:
        return _CONDITIONS.validate_python(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = err["loc"]
        index = loc[0] if loc and isinstance(loc[0], int) else None
        rest = ".".join(str(p) for p in loc[1:]) if index is not None else ""
        msg = err["msg"].removeprefix("Value error, ")
        raise FilterError(index, f"{rest + ': ' if rest else ''}{msg}") from exc


def stored_filter(conditions: Sequence[Condition]) -> list[dict[str, Any]]:
    return [c.stored() for c in conditions]
