"""Bodies whose decoding once raised something other than ``ValidationFailed`` (issue 14): each
a poison message over AMQP (left unsettled or dead-lettered) and a 500 over HTTP. Each entry:
the raw body, the input class its reason must start with, and a detail the reason must name."""

from __future__ import annotations

import json

from tests.unit.services.ingest.intake_support import make_event

_MARK = '"__value__"'


def with_payload_value(raw_json: str) -> bytes:
    """A valid event whose ``payload.value`` is ``raw_json`` exactly as written."""
    body = json.dumps(make_event(payload={"value": "__value__"}))
    return body.replace(_MARK, raw_json).encode()


def _deep_list(depth: int) -> str:
    return "[" * depth + '"\\u0000"' + "]" * depth


def _deep_object(depth: int) -> str:
    return '{"a": ' * depth + '"\\u0000"' + "}" * depth


def _bad_recipient_key() -> bytes:
    """Invalid (one id instead of a list) under a key holding NUL: the reason names the key,
    and PostgreSQL text cannot hold NUL."""
    return json.dumps(make_event(recipients={"a\u0000b": "u-1"})).encode()


HOSTILE: dict[str, tuple[bytes, str, str]] = {
    "integer of 5,000 digits": (with_payload_value("9" * 5000), "out_of_range:", "5000 digits"),
    "negative integer of 5,000 digits": (
        with_payload_value("-" + "9" * 5000),
        "out_of_range:",
        "5000 digits",
    ),
    "450-deep lists around a NUL": (with_payload_value(_deep_list(450)), "too_deep:", "64"),
    "450-deep objects around a NUL": (with_payload_value(_deep_object(450)), "too_deep:", "64"),
    "NaN": (with_payload_value("NaN"), "not_json:", "NaN"),
    "Infinity": (with_payload_value("Infinity"), "not_json:", "Infinity"),
    "-Infinity": (with_payload_value("-Infinity"), "not_json:", "-Infinity"),
    "1e400": (with_payload_value("1e400"), "out_of_range:", "1e400"),
    "-1e400": (with_payload_value("-1e400"), "out_of_range:", "-1e400"),
    "NaN as occurred_at": (
        json.dumps(make_event()).replace('"2026-11-26T10:00:00+00:00"', "NaN").encode(),
        "not_json:",
        "NaN",
    ),
    "NUL in the key an invalid field is named by": (
        _bad_recipient_key(),
        "invalid:",
        "recipients.a\\u0000b",
    ),
}
