"""Poison messages: raw AMQP bodies ingest must turn into ``rejected`` rows with a reason, ack,
and never dead-letter (DESIGN §13). Each kind once broke a decoder in some way: a parser that
accepts it, a conversion that raises something other than the validation error, a value the
database cannot store.

Every body is an envelope-looking message carrying a unique marker (also its ``id``) in its
bytes, so the verdict can find its row among the rejected ones (``events.raw``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tests.acceptance.chaos.population import OBJECT_TYPE, TENANT

POISON_SOURCE = "chaos-poison"  # if one were accepted, it would not mix with the real events
ROUTING_KEY = f"{POISON_SOURCE}.ticket.updated"
HUGE_DIGITS = 5_000  # above Python's int-from-string limit (4,300 digits)
DEEP_LEVELS = 450  # nesting around a NUL character

# kind → the JSON text that replaces the payload's value
_VALUES = {
    "nan": "NaN",
    "infinity": "Infinity",
    "1e400": "1e400",
    "huge-int": "9" * HUGE_DIGITS,
    "deep-nul": "[" * DEEP_LEVELS + '"\\u0000"' + "]" * DEEP_LEVELS,
}
KINDS = (*_VALUES, "invalid-json", "not-utf8")


@dataclass(frozen=True)
class Poison:
    kind: str
    marker: str

    def body(self) -> bytes:
        if self.kind == "invalid-json":
            return _head(self.marker) + f', "payload": {{"marker": "{self.marker}", '.encode()
        if self.kind == "not-utf8":
            return _head(self.marker) + b', "payload": {"title": "\xff\xfe"}}'
        return envelope(self.marker, _VALUES[self.kind])


def _head(marker: str) -> bytes:
    """A valid envelope's text without its closing brace: only the tail makes it poison."""
    return json.dumps({
        "id": marker, "source": POISON_SOURCE, "type": "ticket.updated", "tenant": TENANT,
        "entity": {"type": OBJECT_TYPE, "id": "T-0"}, "recipients": {},
        "occurred_at": "2026-01-01T00:00:00Z",
    }).encode()[:-1]  # fmt: skip


def envelope(marker: str, value: str) -> bytes:
    """The envelope with ``value`` (JSON text) as its payload's value."""
    return _head(marker) + f', "payload": {{"value": {value}}}}}'.encode()


def plan_poison(count: int, seed: int) -> list[Poison]:
    """``count`` poison bodies cycling through every kind."""
    return [Poison(KINDS[n % len(KINDS)], f"chaos-{seed}-poison-{n:04d}") for n in range(count)]
