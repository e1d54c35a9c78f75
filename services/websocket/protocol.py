"""The browser protocol (docs/websocket-protocol.md): inbound commands, outbound frames,
close codes. Outbound frames are built as UTF-8 JSON bytes once and sent to many clients."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from libs.common.inbox.inbox_cursor import encode
from libs.common.schemas.accepted import AcceptedEvent
from libs.common.schemas.inbox import InboxItem, UnreadCounts

# Close codes a client can act on (4000-4999 are ours, RFC 6455 §7.4.2).
CLOSE_GOING_AWAY = 1001  # server shutting down: reconnect elsewhere, then resume
CLOSE_POLICY = 1008  # token expired mid-connection: get a new token, reconnect
CLOSE_TRY_LATER = 1013  # signing keys unavailable (our outage): reconnect after a backoff
CLOSE_UNAUTHORIZED = 4401  # bad token: do not retry with the same token
CLOSE_TENANT_REFUSED = 4403  # the tenant was disabled or removed: do not retry
CLOSE_AUTH_TIMEOUT = 4408  # no auth message in time
CLOSE_IDLE = 4409  # nothing received within the idle timeout: send pings
CLOSE_TOO_SLOW = 4429  # fell too far behind: reconnect and resume

MAX_ID_CHARS = 64
MAX_NOTIFICATION_ID = 2**63 - 1  # BIGINT; a larger last_id made resume answer 'unavailable'
MAX_CURSOR_CHARS = 64
FEED_CURSOR_PREFIX = "f1."  # microseconds since the epoch, then the event id


class _Cmd(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str | None = Field(default=None, max_length=MAX_ID_CHARS)


class Auth(_Cmd):
    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=4_096)
    resume: str | None = Field(default=None, max_length=MAX_CURSOR_CHARS)  # first auth only


class Subscribe(_Cmd):
    type: Literal["subscribe", "unsubscribe"]
    feed: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, max_length=16)
    cursor: str | None = Field(default=None, max_length=MAX_CURSOR_CHARS)  # recover after it


class Resume(_Cmd):
    type: Literal["resume"]
    cursor: str | None = Field(default=None, max_length=MAX_CURSOR_CHARS)
    last_id: int | None = Field(default=None, ge=0, le=MAX_NOTIFICATION_ID)  # deprecated

    @model_validator(mode="after")
    def _one_position(self) -> Resume:
        if (self.cursor is None) == (self.last_id is None):
            raise ValueError("give exactly one of cursor and last_id (deprecated)")
        return self


class Ping(_Cmd):
    type: Literal["ping"]


Command = Annotated[Auth | Subscribe | Resume | Ping, Field(discriminator="type")]
_COMMAND: TypeAdapter[Auth | Subscribe | Resume | Ping] = TypeAdapter(Command)


class BadCommand(ValueError):
    def __init__(self, reason: str, cmd_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.cmd_id = reason, cmd_id


def parse_command(data: str | bytes) -> Auth | Subscribe | Resume | Ping:
    try:
        return _COMMAND.validate_json(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "message"
        raise BadCommand(f"{where}: {err['msg']}", _guess_id(data)) from exc


def _guess_id(data: str | bytes) -> str | None:
    """Echo the command id in the error when the JSON at least parsed."""
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):  # "[[[[…" deep within the frame cap: no id to echo
        return None
    cmd_id = obj.get("id") if isinstance(obj, dict) else None
    return cmd_id if isinstance(cmd_id, str) and len(cmd_id) <= MAX_ID_CHARS else None


def frame(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def error(code: str, reason: str, cmd_id: str | None = None) -> bytes:
    return frame({"type": "error", "id": cmd_id, "code": code, "reason": reason})


def notification(item: InboxItem, seq: int | None) -> bytes:
    body: dict[str, Any] = {"type": "notification", "item": item.model_dump(mode="json")}
    if seq is not None:  # a push from a sender older than the cursor has none
        body["cursor"] = encode(seq)
    return frame(body)


def counts(value: UnreadCounts) -> bytes:
    return frame({"type": "counts", "counts": value.model_dump(mode="json")})


def entity_event(
    feed: str, params: dict[str, str], data: dict[str, Any], event: AcceptedEvent
) -> bytes:
    """``id`` is Herald's event id, ``cursor`` the feed position to recover from."""
    body = {"type": "event", "feed": feed, "params": params, "id": event.event_id}
    body["cursor"] = feed_cursor(event.at, event.event_id)
    return frame({**body, "data": data})


def feed_cursor(at: datetime, event_id: str) -> str:
    return f"{FEED_CURSOR_PREFIX}{round(at.timestamp() * 1_000_000)}.{event_id}"


def read_feed_cursor(cursor: str) -> tuple[datetime, str] | None:
    """(time, event id) of a feed cursor; None for one this gateway did not issue."""
    if not cursor.startswith(FEED_CURSOR_PREFIX):
        return None
    micros, _, event_id = cursor[len(FEED_CURSOR_PREFIX) :].partition(".")
    if not micros.isascii() or not micros.isdigit() or len(micros) > 17 or not event_id:
        return None
    return datetime.fromtimestamp(int(micros) / 1_000_000, UTC), event_id


def close_reason(text: str) -> str:
    """Close reasons are capped at 123 bytes of UTF-8 (RFC 6455 §5.5)."""
    encoded = text.encode()[:123]
    return encoded.decode(errors="ignore")
