"""The envelope contract: every bad input class is named precisely."""

from __future__ import annotations

import json

import pytest

from herald.emit import sample_event
from libs.common.runtime.errors import ValidationFailed
from libs.common.schemas.envelope import (
    MAX_EVENT_BYTES,
    EventEnvelope,
    check_recipient_cap,
    parse_envelope,
    recipient_count,
    skipped_recipients,
)


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
        ({"audience": {}}, "audience"),  # an audience of nobody
        ({"audience": {"roles": [""]}}, "audience.roles.0"),
        ({"audience": {"roles": "designer"}}, "audience.roles"),
        ({"audience": {"companies": ["c"] * 51}}, "audience.companies"),
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


def test_bad_recipient_ids_are_skipped_with_their_reason_not_the_event() -> None:
    """notifications.user_id is VARCHAR(128) NOT NULL: an id it cannot hold, or "", is
    skipped with its reason; the event and its good recipients go on."""
    long_id = "x" * 129
    body = {
        **sample_event(),
        "recipients": {"assignee": ["u-17", "", long_id, 42, None], "owner": ["u-3", "y" * 128]},
    }
    envelope, raw = parse_envelope(encode(body))
    assert envelope.recipients == {"assignee": ["u-17"], "owner": ["u-3", "y" * 128]}
    assert raw["recipients"]["assignee"][2] == long_id  # the stored body keeps what was sent
    assert recipient_count(raw) == 7
    reasons = [str(s) for s in skipped_recipients(raw)]
    assert reasons[0] == "assignee[1]: empty id"
    assert reasons[1].startswith("assignee[2]: 129 characters, longer than 128 ('xxxx")
    assert reasons[2:] == ["assignee[3]: not a string: 42", "assignee[4]: not a string: None"]
    # the processor re-reads the stored body: the same recipients
    assert EventEnvelope.model_validate(raw).recipients == envelope.recipients


def test_valid_recipients_skip_nothing() -> None:
    envelope, raw = parse_envelope(encode(sample_event()))
    assert skipped_recipients(raw) == ()
    assert recipient_count(raw) == 2
    assert envelope.recipients == sample_event()["recipients"]


def test_the_recipient_cap_names_count_and_limit() -> None:
    many = [f"u-{i}" for i in range(10)]
    _, raw = parse_envelope(encode({**sample_event(), "recipients": {"watcher": many, "x": [""]}}))
    check_recipient_cap(raw, 11)  # the skipped "" counts: it was sent, it costs work
    with pytest.raises(ValidationFailed) as err:
        check_recipient_cap(raw, 10)
    assert err.value.reason.startswith("too_many_recipients: 11 recipients")
    assert "10" in err.value.reason
