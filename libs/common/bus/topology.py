"""Exchange and queue names: the wiring of DESIGN §2 in one place; how a topic key routes."""

from __future__ import annotations

EVENTS_EXCHANGE = "herald.events"  # topic; routing key <source>.<type>
WORK_EXCHANGE = "herald.work"  # direct; nudges between stages
BROWSER_EXCHANGE = "herald.browser"  # fanout; the websocket gateway's personal channel
ACCEPTED_EXCHANGE = "herald.accepted"  # topic <source>.<type>; stored events, for live feeds
DLX_EXCHANGE = "herald.dlx"  # direct; dead letters, routed by the queue's name

INGEST_QUEUE = "herald.ingest"
PROCESS_QUEUE = "herald.process"
SEND_QUEUE = "herald.send"

PROCESS_KEY = "process"
SEND_KEY = "send"

# A message that fails this many times (a bug, not an outage) is dead-lettered.
DELIVERY_LIMIT = 5


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dead"


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: '*' is one word, '#' zero or more."""
    pat, words = pattern.split("."), key.split(".")

    def match(i: int, j: int) -> bool:
        if i == len(pat):
            return j == len(words)
        if pat[i] == "#":
            return any(match(i + 1, k) for k in range(j, len(words) + 1))
        return j < len(words) and pat[i] in ("*", words[j]) and match(i + 1, j + 1)

    return match(0, 0)
