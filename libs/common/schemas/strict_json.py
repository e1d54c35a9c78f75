"""JSON as Herald accepts it from a producer: numbers that fit, nesting that is bounded.

Python's ``json.loads`` is more lenient, and less bounded, than a consumer can afford. Each of
these was a poison message on AMQP (left unsettled, or retried into the dead-letter queue) and
a 500 over HTTP; each is now a ``ValidationFailed`` whose reason names the input class:

* ``NaN``, ``Infinity``, ``-Infinity`` are not JSON (RFC 8259 §6) and PostgreSQL ``jsonb``
  refuses them → ``not_json``;
* ``1e400`` overflows to ``inf``, with the same end → ``out_of_range``;
* an integer of over 4,300 digits raises ``ValueError`` (CPython's guard against quadratic
  int/str conversion) and a shorter long one costs that CPU wherever it is printed again
  → ``out_of_range`` past ``MAX_INT_DIGITS``;
* nesting a few hundred deep raises ``RecursionError`` in whatever walks the value next (the
  NUL check, ``json.dumps``, rendering), a few thousand deep in the parser itself
  → ``too_deep`` past ``MAX_DEPTH``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from libs.common.runtime.errors import ValidationFailed

# An envelope nests 3 levels (entity.attributes.x); 64 leaves attributes and payloads ample room
# and stays far below the ~1,000 Python frames where recursive walkers fail.
MAX_DEPTH = 64
# A 64-bit integer has 20 digits, a 128-bit one 39; CPython refuses to convert past 4,300.
MAX_INT_DIGITS = 100
_QUOTED_CHARS = 40  # how much of a refused number the reason quotes


def loads(text: str | bytes, *, wrapping: int = 0) -> Any:
    """``json.loads`` that refuses the inputs above with ``ValidationFailed``; malformed JSON
    still raises ``json.JSONDecodeError`` (and undecodable bytes ``UnicodeDecodeError``).
    ``wrapping``: levels around the values the depth bound is for (a batch's array is 1)."""
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError as exc:  # thousands deep: the parser itself gave up
        raise too_deep() from exc
    limit = MAX_DEPTH + wrapping
    if _brackets(text) > limit and deeper_than(value, limit):
        raise too_deep()
    return value


def deeper_than(value: Any, limit: int) -> bool:
    """True when objects and arrays nest more than ``limit`` levels; walked level by level,
    without recursion, so any depth the parser returned can be measured."""
    level, depth = [value], 0
    while level := [v for v in level if isinstance(v, dict | list)]:
        depth += 1
        if depth > limit:
            return True
        level = [c for v in level for c in (v.values() if isinstance(v, dict) else v)]
    return False


def too_deep() -> ValidationFailed:
    return ValidationFailed(
        f"too_deep: objects and arrays nested more than {MAX_DEPTH} levels deep"
    )


def _brackets(text: str | bytes) -> int:
    """A cheap upper bound of the depth (brackets inside strings count too): the exact walk
    only runs when it could exceed the limit."""
    if isinstance(text, bytes):
        return text.count(b"{") + text.count(b"[")
    return text.count("{") + text.count("[")


def _int(literal: str) -> int:
    digits = len(literal) - literal.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise ValidationFailed(
            f"out_of_range: an integer of {digits} digits; at most {MAX_INT_DIGITS}"
        )
    return int(literal)


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        quoted = literal if len(literal) <= _QUOTED_CHARS else literal[:_QUOTED_CHARS] + "…"
        raise ValidationFailed(f"out_of_range: {quoted} does not fit a 64-bit float")
    return value


def _constant(name: str) -> float:
    raise ValidationFailed(f"not_json: {name} is not a JSON number (RFC 8259)")
