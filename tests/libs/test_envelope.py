"""The envelope contract: every bad input class is named precisely."""

from __future__ import annotations

import json

import pytest

from herald.emit import sample_event
from libs.common.errors import ValidationFailed
from libs.common.schemas.envelope import MAX_EVENT_BYTES, parse_envelope


def encode(body: object) -> bytes:
    return json.dumps(body).encode()


def test_sample_event_is_valid_and_keeps_unknown_fields() -> None:
    body = {**sample_event(), "future_field": {"x": 1}}
    envelope, raw = parse_envelope(encode(body))
    assert envelope.routing_key == "tenders.tender.requirement_added"
    assert raw["future_field"] == {"x": 1}
    assert envelope.direct_recipients() == {"u-17": ["assignee"], "u-3": ["owner"]}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe{}", "not_utf8"),
        (b"{not json", "not_json"),
        (b"[1, 2]", "not_object"),
        (b"x" * (MAX_EVENT_BYTES + 1), "too_large"),
    ],
)
def test_undecodable_input(raw: bytes, reason: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_envelope(raw)
    assert err.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"entity": {"type": "tender"}}, "entity.id"),
        ({"priority": "urgent"}, "priority"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2026-11-26T10:00:00"}, "occurred_at"),
        ({"recipients": {"assignee": "u-17"}}, "recipients.assignee"),
        ({"source": "has space"}, "source"),
    ],
)
def test_invalid_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_envelope(encode({**sample_event(), **change}))
    assert err.value.reason.startswith("invalid:")
    assert field in err.value.reason


def test_missing_required_field() -> None:
    body = sample_event()
    del body["source"]
    with pytest.raises(ValidationFailed, match="source: Field required"):
        parse_envelope(encode(body))
