"""The channels Herald delivers on (DESIGN §6): one registry that the user API, the admin, the
processor, the templates and the sender all read, so a channel is named in one place.

A channel is a ``ChannelSpec``: its name, the directory field that says where a person is
reached on it, whether it has digests (the browser has none: a push only lights the inbox
counter, so there is nothing to batch), whether it interrupts a person (a ``low`` event reaches
an intrusive one only when chosen instant, DESIGN §6), and the sender's provider factory
(``"module:callable"``, imported only by the sender). The built-in ones are below; more come
from plugins: a line in ``HERALD_CHANNEL_PLUGINS`` (``["pkg.module:CHANNEL"]``) or an entry
point in the ``herald.channels`` group, each naming a ``ChannelSpec`` or a callable returning
one. Every fact about a channel lives here and is read when asked (``digest_refusal``,
``Registry.without_digest``, ``ChannelSpec.intrusive``), so a plugin registered late counts.

A channel *has a provider* when one of its ``enabled_by`` settings is set (``HERALD_SMTP_HOST``
for e-mail, ``HERALD_SMS_GATEWAY_URL`` for SMS; the browser always has one). The processor never
plans a delivery on a channel without one, and the admin refuses it as a default channel.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pydantic import Field

from libs.common.runtime.settings import HeraldSettings

ENTRY_POINT_GROUP = "herald.channels"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # deliveries.channel is VARCHAR(32)
ATTRIBUTE_PREFIX = "attributes."  # an address kept in the person's free attributes


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    provider: str  # "module:callable": (ProviderContext) -> Provider, imported by the sender
    address: str | None = None  # "email", "phone", "attributes.<key>"; None: needs none
    missing: str = "no address in the directory"  # the SKIPPED reason when it is absent
    digests: bool = True  # False: notifications there never wait for a digest
    intrusive: bool = True  # interrupts a person: a ``low`` event only if chosen instant
    enabled_by: tuple[str, ...] = ()  # settings any of which gives it a provider; () = always
    title: str = ""

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(f"channel name {self.name!r}: lowercase letters, digits, _ (≤ 32)")
        if ":" not in self.provider:
            raise ValueError(f"channel {self.name}: provider must be 'module:callable'")

    def address_of(self, person: Any) -> str | None:
        """Where ``person`` (anything with the directory's fields) is reached here."""
        if self.address is None or person is None:
            return None
        if self.address.startswith(ATTRIBUTE_PREFIX):
            value = (getattr(person, "attributes", None) or {}).get(
                self.address[len(ATTRIBUTE_PREFIX) :]
            )
        else:
            value = getattr(person, self.address, None)
        return str(value) if value not in (None, "") else None


_SENDERS = "services.sender.providers.factories"
BUILTIN: tuple[ChannelSpec, ...] = (
    ChannelSpec(
        "email", f"{_SENDERS}:email", "email", "no e-mail address in the directory",
        enabled_by=("smtp_host", "outbox_dir"), title="E-mail",
    ),
    ChannelSpec(
        "telegram", f"{_SENDERS}:telegram", "telegram_chat_id", "no linked Telegram chat",
        enabled_by=("telegram_bot_token",), title="Telegram",
    ),
    ChannelSpec(
        "browser", f"{_SENDERS}:browser", digests=False, intrusive=False, title="Browser",
    ),
    # the first plugin: registered like any other channel, shipped with Herald
    ChannelSpec(
        "sms", "services.sender.providers.sms:build", "phone", "no phone number in the directory",
        enabled_by=("sms_gateway_url",), title="SMS",
    ),
)  # fmt: skip


class ChannelSettings(HeraldSettings):
    """What says which channels have a provider; read by the sender, the processor and the
    admin alike, so give every service the same values (compose.yaml does)."""

    channel_plugins: list[str] = Field(
        default=[], description='more channels: JSON list of "module:attr" (a ChannelSpec)'
    )
    smtp_host: str | None = None
    outbox_dir: Path | None = Field(
        default=None, description="development: write e-mails here instead of SMTP"
    )
    telegram_bot_token: str | None = Field(default=None, description="enables the channel")
    sms_gateway_url: str | None = Field(
        default=None, description="enables SMS: the HTTP gateway's send URL"
    )


class Registry:
    def __init__(self, specs: Iterable[ChannelSpec]) -> None:
        self._specs: dict[str, ChannelSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"channel {spec.name!r} is registered twice")
            self._specs[spec.name] = spec

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[ChannelSpec]:
        return iter(self._specs.values())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def get(self, name: str) -> ChannelSpec | None:
        return self._specs.get(name)

    def available(self, settings: object) -> frozenset[str]:
        """Channels with a provider under ``settings`` (then the environment)."""
        return frozenset(s.name for s in self if _enabled(s, settings))

    def without_digest(self) -> frozenset[str]:
        return frozenset(s.name for s in self if not s.digests)

    def intrusive(self) -> frozenset[str]:
        return frozenset(s.name for s in self if s.intrusive)


def _enabled(spec: ChannelSpec, settings: object) -> bool:
    if not spec.enabled_by:
        return True
    return any(
        getattr(settings, name, None) or os.environ.get(f"HERALD_{name.upper()}")
        for name in spec.enabled_by
    )


def load_spec(path: str) -> ChannelSpec:
    """``"pkg.module:attr"`` → the ChannelSpec it names (or that the callable there returns)."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ValueError(f"channel plugin {path!r}: expected 'pkg.module:attr'")
    found = getattr(importlib.import_module(module_name), attr)
    spec = found() if callable(found) and not isinstance(found, ChannelSpec) else found
    if not isinstance(spec, ChannelSpec):
        raise TypeError(f"channel plugin {path!r} gave {type(spec).__name__}, not ChannelSpec")
    return spec


def _entry_point_specs() -> list[ChannelSpec]:
    return [load_spec(ep.value) for ep in entry_points(group=ENTRY_POINT_GROUP)]


_registry: Registry | None = None


def configure(plugins: Iterable[str] = ()) -> Registry:
    """Built-ins, entry points, then ``plugins``; every later ``registry()`` returns it."""
    global _registry
    _registry = Registry([*BUILTIN, *_entry_point_specs(), *(load_spec(p) for p in plugins)])
    return _registry


def registry() -> Registry:
    """The registry; the first call reads ``HERALD_CHANNEL_PLUGINS`` from the environment."""
    return _registry if _registry is not None else configure(ChannelSettings().channel_plugins)


def unknown(names: Iterable[str]) -> list[str]:
    known = registry()
    return sorted({n for n in names if n not in known})


def provider_refusal(channel: str, available: Collection[str]) -> str | None:
    """Why ``channel`` can carry no delivery here, or None."""
    if channel not in registry():
        return f"unknown channel {channel}"
    if channel not in available:
        return f"no provider for channel {channel}"
    return None


def digest_refusal(channel: str) -> str | None:
    """Why ``channel`` may not have a digest (mode ``digest``, a schedule), or None. Asked of
    the registry each time, so a channel registered late is judged like a built-in one."""
    spec = registry().get(channel)
    if spec is not None and not spec.digests:
        return (
            f"the {channel} channel has no digest: its notifications always arrive at once "
            "in the inbox; choose instant or off"
        )
    return None
