"""The outcome the scenario must end with, computed from the plan (DESIGN §5 steps 3-4).

Claims: each direct recipient, then each subscription whose filter holds (in id order). Each
claim asks for channels: the subscription's own, or the person's defaults (the type's channels
plus any channel the person switched on for the module). One delivery per person and channel
is live; every later ask for that channel is a ``SKIPPED`` row with a reason. A live e-mail
of a digestible type for a digest-mode user ends ``DIGEST`` (no digest is due during the
run); every other live delivery ends ``SENT`` (every person here may read the object).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from tests.acceptance.chaos.population import (
    DIGEST_USERS,
    OBJECT_TYPE,
    SUBSCRIPTIONS,
    ChaosType,
    PlannedEvent,
)

DeliveryKey = tuple[str, str, str]  # (event id, user, channel)
# the final statuses of that key's rows, sorted: ("SENT",), ("DIGEST", "SKIPPED"), …
Expected = dict[DeliveryKey, tuple[str, ...]]
SENT, DIGEST, SKIPPED = "SENT", "DIGEST", "SKIPPED"


def default_channels(who: str, kind: ChaosType) -> tuple[str, ...]:
    switched_on = ("email",) if who in DIGEST_USERS else ()
    return tuple(dict.fromkeys((*kind.channels, *switched_on)))


def claims(event: PlannedEvent) -> list[tuple[str, tuple[str, ...]]]:
    """(person, channels asked for) in claim order."""
    direct = [(who, default_channels(who, event.kind)) for who in event.recipients]
    if event.entity_type != OBJECT_TYPE:
        return direct
    subs = [s for s in SUBSCRIPTIONS if s.matches(event.attributes)]
    return direct + [(s.user, s.channels or default_channels(s.user, event.kind)) for s in subs]


def live_status(who: str, channel: str, kind: ChaosType) -> str:
    return DIGEST if channel == "email" and who in DIGEST_USERS and kind.digestible else SENT


def expected_deliveries(events: Iterable[PlannedEvent]) -> Expected:
    out: Expected = {}
    for event in events:
        asks = Counter((who, ch) for who, channels in claims(event) for ch in channels)
        for (who, ch), n in asks.items():
            statuses = [live_status(who, ch, event.kind)] + [SKIPPED] * (n - 1)
            out[(event.id, who, ch)] = tuple(sorted(statuses))
    return out


def expected_notifications(events: Iterable[PlannedEvent]) -> set[tuple[str, str]]:
    """(event id, user): one notification per person an event reaches."""
    return {(e.id, who) for e in events for who, _ in claims(e)}
