"""The browser protocol's pure parts (docs/websocket-protocol.md): commands in, frames out,
feed cursors and close reasons; no server, no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.websocket.protocol import (
    MAX_ID_CHARS,
    Auth,
    BadCommand,
    Ping,
    Resume,
    Subscribe,
    close_reason,
    error,
    feed_cursor,
    parse_command,
    read_feed_cursor,
)


def test_each_command_parses_to_its_model() -> None:
    assert parse_command('{"type": "auth", "token": "t", "id": "1"}') == Auth(
        type="auth", token="t", id="1"
    )
    sub = parse_command(b'{"type": "subscribe", "feed": "tender", "params": {"tender_id": "T"}}')
    assert isinstance(sub, Subscribe) and sub.params == {"tender_id": "T"}
    assert isinstance(parse_command('{"type": "ping"}'), Ping)
    resume = parse_command('{"type": "resume", "cursor": "c1"}')
    assert isinstance(resume, Resume) and resume.cursor == "c1"


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ('{"type": "auth", "token": "t", "extra": 1, "id": "7"}', "auth.extra"),
        ('{"type": "resume", "id": "7"}', "resume"),  # neither cursor nor last_id
        ('{"type": "resume", "cursor": "c", "last_id": 3, "id": "7"}', "resume"),  # both
        ('{"type": "shout", "id": "7"}', "message"),
    ],
)
def test_a_bad_command_names_what_is_wrong_and_echoes_its_id(data: str, where: str) -> None:
    with pytest.raises(BadCommand) as caught:
        parse_command(data)
    assert caught.value.reason.startswith(where)
    assert caught.value.cmd_id == "7"


def test_no_id_is_echoed_from_what_is_not_json_or_too_long() -> None:
    for data in ("[[[[", '{"type": "x", "id": "' + "i" * (MAX_ID_CHARS + 1) + '"}'):
        with pytest.raises(BadCommand) as caught:
            parse_command(data)
        assert caught.value.cmd_id is None


def test_an_error_frame_is_compact_utf8_json() -> None:
    body = error("bad_command", "тип: неизвестен", "9")
    assert b" " not in body.replace("тип: неизвестен".encode(), b"")
    assert json.loads(body) == {
        "type": "error",
        "id": "9",
        "code": "bad_command",
        "reason": "тип: неизвестен",
    }


def test_a_feed_cursor_reads_back_to_its_time_and_event() -> None:
    at = datetime(2026, 12, 1, 10, 30, 15, 123456, tzinfo=UTC)
    assert read_feed_cursor(feed_cursor(at, "ev-1.a")) == (at, "ev-1.a")


@pytest.mark.parametrize(
    "cursor", ["", "f2.1.e", "f1..e", "f1.12x.e", "f1.١٢.e", "f1.123", "f1." + "9" * 18 + ".e"]
)
def test_a_cursor_this_gateway_did_not_issue_reads_as_none(cursor: str) -> None:
    assert read_feed_cursor(cursor) is None


def test_a_close_reason_fits_in_123_bytes_without_a_broken_character() -> None:
    reason = close_reason("я" * 100)  # 200 bytes of UTF-8
    assert len(reason.encode()) <= 123
    assert reason == "я" * 61
