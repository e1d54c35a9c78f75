"""Channel preferences: the effective mode per module × channel, and what may be changed.

Resolution (the processor applies the same order): the user's row for (module, channel), else
their row for ("*", channel), else the module's default — when any enabled event type of the
module (the tenant's own rows over the global ones) lists the channel in ``default_channels``,
the tenant's default mode for the module or "*" (``tenants.settings``), else ``instant``;
otherwise ``off``. Critical event types
always go out instantly whatever the setting; ``off`` is therefore refused (422) for a channel
that a critical type of the module uses, so the screen never claims something it won't honour.
``digest`` is refused (422, ``no_digest``) for a channel that has none: the browser.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from libs.common.catalog.defaults import DEFAULT_EVENT_TYPE
from libs.common.db.models import EventType
from libs.common.delivery.channels import digest_refusal, registry
from services.ingest.errors import ApiError
from services.ingest.user_api.schemas import (
    ALL_SOURCES,
    ChannelSetting,
    Mode,
    ModulePreferences,
    PreferenceChange,
    PreferencesView,
)

Modes = dict[tuple[str, str], str]  # (module or "*", channel) -> mode


@dataclass
class Module:
    """What the event types of one source say about its channels."""

    default_channels: set[str] = field(default_factory=set)
    critical: dict[str, set[str]] = field(default_factory=dict)  # type key -> its channels
    digestible: bool = False
    has_types: bool = False

    def critical_on(self, channel: str) -> list[str]:
        return sorted(k for k, chans in self.critical.items() if channel in chans)


def modules_of(event_types: Iterable[EventType]) -> dict[str, Module]:
    """The modules as a tenant's events see them, from its own and the global event type
    rows: its own over the global ones (DESIGN §15), enabled ones only."""
    chosen: dict[str, EventType] = {}
    for et in event_types:
        if et.tenant is not None or et.key not in chosen:
            chosen[et.key] = et
    modules: dict[str, Module] = defaultdict(Module)
    for et in (row for row in chosen.values() if row.enabled):
        mod = modules[et.source]
        mod.has_types = True
        mod.default_channels.update(et.default_channels)
        mod.digestible = mod.digestible or et.digestible
        if et.critical:
            mod.critical[et.key] = set(et.default_channels)
    return dict(modules)


def _fallback() -> Module:
    """A module with no event type rows: processed with the built-in type defaults."""
    return Module(default_channels=set(DEFAULT_EVENT_TYPE["default_channels"]), digestible=True)


def _all_modules(modules: dict[str, Module]) -> Module:
    """ "*" covers every module: its critical types are all of theirs."""
    merged = Module(default_channels=set(DEFAULT_EVENT_TYPE["default_channels"]), digestible=True)
    for mod in modules.values():
        merged.critical.update(mod.critical)
    return merged


def module_for(source: str, modules: dict[str, Module]) -> Module:
    if source == ALL_SOURCES:
        return _all_modules(modules)
    return modules.get(source) or _fallback()


def _setting(source: str, channel: str, mod: Module, rows: Modes, defaults: Modes) -> Mode:
    explicit = rows.get((source, channel)) or rows.get((ALL_SOURCES, channel))
    if explicit is not None:
        return Mode(explicit)
    if channel not in mod.default_channels:
        return Mode.OFF
    return Mode(
        defaults.get((source, channel)) or defaults.get((ALL_SOURCES, channel)) or "instant"
    )


def build_view(
    modules: dict[str, Module], rows: Modes, defaults: Modes | None = None
) -> PreferencesView:
    sources = [ALL_SOURCES, *sorted(set(modules) | {s for s, _ in rows} - {ALL_SOURCES})]
    known = registry().names
    out = []
    for source in sources:
        mod = module_for(source, modules)
        channels = {
            ch: ChannelSetting(
                mode=_setting(source, ch, mod, rows, defaults or {}),
                is_default=(source, ch) not in rows,
                can_turn_off=not mod.critical_on(ch),
                can_digest=digest_refusal(ch) is None,
            )
            for ch in known
        }
        out.append(
            ModulePreferences(
                source=source,
                critical_types=sorted(mod.critical),
                digestible=mod.digestible,
                channels=channels,
            )
        )
    return PreferencesView(channels=list(known), modules=out)


def check_change(index: int, change: PreferenceChange, modules: dict[str, Module]) -> None:
    """422 naming the change and the reason, before anything is written."""
    where = {"change": index, "source": change.source, "channel": change.channel}
    known = registry().names  # read now: a plugin registered late is a channel too
    if change.channel not in known:
        raise ApiError(
            422, f"changes[{index}]: unknown channel {change.channel!r}; known: {list(known)}",
            details=where,
        )  # fmt: skip
    mod = module_for(change.source, modules)
    critical = mod.critical_on(change.channel)
    if change.mode is Mode.OFF and critical:
        raise ApiError(
            422,
            f"changes[{index}]: {change.channel} cannot be switched off for {change.source!r}: "
            f"critical event types always deliver on it ({', '.join(critical)})",
            code="critical_channel",
            details={**where, "critical_types": critical},
        )
    no_digest = digest_refusal(change.channel)
    if change.mode is Mode.DIGEST and no_digest:
        raise ApiError(422, f"changes[{index}]: {no_digest}", code="no_digest", details=where)
    if change.mode is Mode.DIGEST and mod.has_types and not mod.digestible:
        raise ApiError(
            422,
            f"changes[{index}]: {change.source!r} has no event types that may wait for a digest",
            code="not_digestible",
            details=where,
        )
