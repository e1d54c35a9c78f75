"""Channel choice (DESIGN §5 step 4): which deliveries a person gets, in which state.

A person may be reached through several *claims* (direct participant, one or more
subscriptions). Each claim asks for channels — the subscription's own, or the event type's
defaults plus the channels the person switched on for this module. The first claim to ask for
a channel gets the one live delivery; every later ask is recorded as ``SKIPPED``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from libs.common.db.models import DeliveryStatus
from services.processor.catalog import TypeInfo
from services.processor.directory import Entry

ANY_SOURCE = "*"
INSTANT, DIGEST, OFF = "instant", "digest", "off"

Prefs = Mapping[tuple[str, str], str]  # (source or "*", channel) -> mode, for one person


@dataclass(frozen=True)
class Claim:
    user_id: str
    reason: str  # "direct:assignee", "subscription:12"
    channels: tuple[str, ...] = ()  # empty: the person's default channels


@dataclass(frozen=True)
class Planned:
    channel: str
    status: DeliveryStatus
    reason: str


def missing_address(channel: str, person: Entry | None) -> str | None:
    if channel == "email" and not (person and person.email):
        return "no e-mail address in the directory"
    if channel == "telegram" and not (person and person.telegram_chat_id):
        return "no linked Telegram chat"
    if channel == "sms" and not (person and person.attributes.get("phone")):
        return "no phone number in the directory"
    return None


def mode(prefs: Prefs, source: str, channel: str) -> str:
    """The module's own setting wins over the person's "*" setting; default instant."""
    return prefs.get((source, channel)) or prefs.get((ANY_SOURCE, channel)) or INSTANT


def default_channels(prefs: Prefs, source: str, etype: TypeInfo) -> tuple[str, ...]:
    """The type's defaults plus every channel switched on (instant/digest) for the module."""
    extra = [
        ch
        for (src, ch), how in sorted(prefs.items())
        if src in (source, ANY_SOURCE) and how != OFF and mode(prefs, source, ch) != OFF
    ]
    return tuple(dict.fromkeys([*etype.default_channels, *extra]))


def _decide(
    channel: str, reason: str, source: str, etype: TypeInfo, prefs: Prefs, person: Entry | None
) -> Planned:
    missing = missing_address(channel, person)
    if missing:
        return Planned(channel, DeliveryStatus.SKIPPED, missing)
    if etype.critical:  # critical types go out now, whatever the preferences say
        return Planned(channel, DeliveryStatus.PENDING, reason)
    how = mode(prefs, source, channel)
    if how == OFF:
        return Planned(channel, DeliveryStatus.SKIPPED, f"{channel} is off for {source}")
    if how == DIGEST and etype.digestible:
        return Planned(channel, DeliveryStatus.DIGEST, reason)
    return Planned(channel, DeliveryStatus.PENDING, reason)


def plan_person(
    claims: Iterable[Claim], source: str, etype: TypeInfo, prefs: Prefs, person: Entry | None
) -> list[Planned]:
    """One decision per channel; later asks for a decided channel become SKIPPED."""
    decided: dict[str, str] = {}
    planned: list[Planned] = []
    for claim in claims:
        for channel in claim.channels or default_channels(prefs, source, etype):
            if channel in decided:
                why = f"duplicate: {channel} already planned for {decided[channel]}"
                why += f"; also asked by {claim.reason}"
                planned.append(Planned(channel, DeliveryStatus.SKIPPED, why))
                continue
            decided[channel] = claim.reason
            planned.append(_decide(channel, claim.reason, source, etype, prefs, person))
    return planned
