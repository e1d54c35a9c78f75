"""Channel choice (DESIGN §5 step 4): which deliveries a person gets, in which state.

A person may be reached through several *claims* (direct participant, one or more
subscriptions). Each claim asks for channels — the subscription's own, or the event type's
defaults plus the channels the person switched on for this module. The first claim to ask for
a channel gets the one live delivery; every later ask is recorded as ``SKIPPED``.

Priority (DESIGN §6): ``critical`` (the event's or its type's) goes out at once on every asked
channel, whatever the preferences; ``low`` reaches an intrusive channel (e-mail, Telegram, SMS)
at once only when the user chose instant there, else through their digest, else the inbox
alone; ``normal`` follows the preferences. The browser never waits for a digest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from libs.common.db.models import DeliveryStatus
from libs.common.delivery.channels import digest_refusal, provider_refusal, registry
from libs.common.schemas.envelope import Priority
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
    spec = registry().get(channel)  # the channel's own directory field
    # (libs/common/delivery/channels.py)
    if spec is None or spec.address is None or spec.address_of(person):
        return None
    return spec.missing


def mode(prefs: Prefs, source: str, channel: str, defaults: Prefs | None = None) -> str:
    """The module's own setting wins over the person's "*" setting, then the tenant's default
    for the module, then for "*" (tenants.settings.default_modes); default instant."""
    chosen = prefs.get((source, channel)) or prefs.get((ANY_SOURCE, channel))
    return chosen or _tenant_default(defaults, source, channel) or INSTANT


def _tenant_default(defaults: Prefs | None, source: str, channel: str) -> str | None:
    if not defaults:
        return None
    return defaults.get((source, channel)) or defaults.get((ANY_SOURCE, channel))


def default_channels(prefs: Prefs, source: str, etype: TypeInfo) -> tuple[str, ...]:
    """The type's defaults plus every channel switched on (instant/digest) for the module."""
    extra = [
        ch
        for (src, ch), how in sorted(prefs.items())
        if src in (source, ANY_SOURCE) and how != OFF and mode(prefs, source, ch) != OFF
    ]
    return tuple(dict.fromkeys([*etype.default_channels, *extra]))


@dataclass(frozen=True)
class Terms:
    """Everything that decides one person's deliveries of one event."""

    source: str
    etype: TypeInfo
    priority: Priority
    prefs: Prefs
    digests: frozenset[str] = frozenset()  # channels with an enabled digest schedule
    available: frozenset[str] | None = None  # channels with a provider; None: not checked
    defaults: Prefs | None = None  # the tenant's default modes, for what the person did not set

    @property
    def critical(self) -> bool:
        """A critical type or a critical event: instant, never digested, never off."""
        return self.etype.critical or self.priority is Priority.CRITICAL


def _decide(channel: str, reason: str, terms: Terms, person: Entry | None) -> Planned:
    if terms.available is not None and (refused := provider_refusal(channel, terms.available)):
        return Planned(channel, DeliveryStatus.SKIPPED, refused)
    missing = missing_address(channel, person)
    if missing:
        return Planned(channel, DeliveryStatus.SKIPPED, missing)
    how = mode(terms.prefs, terms.source, channel, terms.defaults)
    if terms.critical:  # out now, whatever the preferences say
        if how != INSTANT:
            reason = f"{reason}; critical: instant although {channel} is {how} for {terms.source}"
        return Planned(channel, DeliveryStatus.PENDING, reason)
    if how == OFF:
        return Planned(channel, DeliveryStatus.SKIPPED, f"{channel} is off for {terms.source}")
    if terms.priority is Priority.LOW and _intrusive(channel):
        return _low(channel, reason, terms)
    if how == DIGEST:
        return _digest(channel, reason, terms.etype)
    return Planned(channel, DeliveryStatus.PENDING, reason)


def _intrusive(channel: str) -> bool:
    """It interrupts a person (ChannelSpec.intrusive: e-mail, Telegram, SMS, most plugins)."""
    spec = registry().get(channel)
    return spec is not None and spec.intrusive


def _digest(channel: str, reason: str, etype: TypeInfo) -> Planned:
    if digest_refusal(channel):  # a row stored before the API refused it
        return Planned(channel, DeliveryStatus.PENDING, f"{reason}; the {channel} has no digest")
    if etype.digestible:
        return Planned(channel, DeliveryStatus.DIGEST, reason)
    return Planned(channel, DeliveryStatus.PENDING, reason)


def _low(channel: str, reason: str, terms: Terms) -> Planned:
    """Instant only when the user chose instant; else their digest, else the inbox alone."""
    own = terms.prefs.get((terms.source, channel))
    explicit = own or terms.prefs.get((ANY_SOURCE, channel))
    if explicit == INSTANT:
        scope = terms.source if own else "all modules"
        why = f"{reason}; low priority: instant because chosen for {scope}"
        return Planned(channel, DeliveryStatus.PENDING, why)
    wanted = explicit or _tenant_default(terms.defaults, terms.source, channel)
    if terms.etype.digestible and (wanted == DIGEST or channel in terms.digests):
        why = f"{reason}; low priority: waits for the {channel} digest"
        return Planned(channel, DeliveryStatus.DIGEST, why)
    cause = (
        f"no {channel} digest schedule"
        if terms.etype.digestible
        else f"{terms.etype.key} may not wait for a digest"
    )
    why = f"low priority: {channel} only when chosen instant; {cause}; inbox only"
    return Planned(channel, DeliveryStatus.SKIPPED, why)


def plan_person(claims: Iterable[Claim], terms: Terms, person: Entry | None) -> list[Planned]:
    """One decision per channel; later asks for a decided channel become SKIPPED."""
    decided: dict[str, str] = {}
    planned: list[Planned] = []
    for claim in claims:
        for channel in claim.channels or default_channels(terms.prefs, terms.source, terms.etype):
            if channel in decided:
                why = f"duplicate: {channel} already planned for {decided[channel]}"
                why += f"; also asked by {claim.reason}"
                planned.append(Planned(channel, DeliveryStatus.SKIPPED, why))
                continue
            decided[channel] = claim.reason
            planned.append(_decide(channel, claim.reason, terms, person))
    return planned
