"""Who published a message, and under which routing key — also after a dead-letter replay.

Ingest judges an event by its publisher (the ``user_id`` RabbitMQ validated) and its routing
key (DESIGN §3.1). ``herald dlq replay`` re-drives a dead message as the operator, straight
into the queue through the default exchange, so both would be lost; it records them in two
headers taken from the broker's own death record. Ingest believes these headers only on a
message that came through the default exchange, which producers may not write to
(docs/security.md): a producer setting them on its own messages gains nothing.
"""

from __future__ import annotations

from typing import Any

from libs.common.bus.base import Message

USER_HEADER = "x-herald-user-id"
ROUTING_KEY_HEADER = "x-herald-routing-key"
ORIGIN_HEADERS = (USER_HEADER, ROUTING_KEY_HEADER)


def origin(message: Message) -> tuple[str | None, str | None]:
    """(publisher, routing key to check) of a delivered message. Straight into the queue
    without the replay's headers there is no routing key to check."""
    if message.exchange:
        return message.user_id, message.routing_key
    headers = message.headers
    user = _text(headers.get(USER_HEADER)) or message.user_id
    return user, _text(headers.get(ROUTING_KEY_HEADER))


def replay_origin(headers: dict[str, Any], user_id: str | None) -> dict[str, str]:
    """The origin headers for re-driving a dead message that arrived with ``headers``."""
    deaths = headers.get("x-death")
    last = deaths[0] if isinstance(deaths, list) and deaths else None
    if not isinstance(last, dict):
        return {}
    if last.get("exchange") in ("", b""):  # died again after a replay: ours still stand
        return {k: v for k in ORIGIN_HEADERS if (v := _text(headers.get(k)))}
    found: dict[str, str] = {}
    if user_id:
        found[USER_HEADER] = user_id
    keys = last.get("routing-keys")
    if isinstance(keys, list) and keys and (key := _text(keys[0])):
        found[ROUTING_KEY_HEADER] = key
    return found


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) and value else None
