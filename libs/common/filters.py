"""Saved-filter conditions (DESIGN §5.2): what a condition is and how it is validated.

A filter is a list of conditions, all of which must hold:
``{"in": "attributes", "field": "deadline", "op": "within_days", "value": 7}``. ``in`` says
where the condition looks (the entity's ``attributes``, the default; the event's ``payload``;
or the ``event`` itself: its type, priority, actor, project...), ``field`` is a dotted path
(``location.floor``). Evaluation lives in ``filter_match.py``; both the processor and the
subscription preview use it, on filters validated here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

Op = Literal[
    "eq", "ne", "in", "not_in", "gte", "lte", "between",
    "within_days", "users_any", "roles_any", "companies_any",
]  # fmt: skip
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
MAX_WITHIN_DAYS = 3650
MAX_PATH_SEGMENTS = 8  # a.b.c…: deeper documents are rare, and every level is a lookup
MAX_SEGMENT_CHARS = 64
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


def as_date(value: Any) -> date | None:
    """An ISO date or datetime string (or object) as a date; None if it is not one."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return None
    return None


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _orderable(value: Any) -> bool:
    return is_number(value) or as_date(value) is not None


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


def _value_problem(op: str, v: Any) -> str | None:
    if _not_finite(v):
        return f"{op} needs finite numbers (no NaN or Infinity)"
    if op in ("eq", "ne") and not isinstance(v, Scalar):
        return f"{op} needs a single value (string, number or boolean)"
    if op in ("in", "not_in") and not (
        isinstance(v, list) and v and all(isinstance(x, Scalar) for x in v)
    ):
        return f"{op} needs a non-empty list of values"
    if op in ("gte", "lte") and not _orderable(v):
        return f"{op} needs a number or an ISO date"
    if op == "between":
        if not (isinstance(v, list) and len(v) == 2 and all(_orderable(x) for x in v)):
            return "between needs [low, high], both numbers or both ISO dates"
        lo, hi = v
        if is_number(lo) != is_number(hi):
            return "between needs both bounds of the same kind"
        if (lo > hi) if is_number(lo) else (as_date(lo) > as_date(hi)):  # type: ignore[operator]
            return "between needs low <= high"
    if op == "within_days" and not (
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_WITHIN_DAYS
    ):
        return f"within_days needs a whole number of days, 0 to {MAX_WITHIN_DAYS}"
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
    value: Any = Field(examples=[7])

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
