"""Configuration with tenant overrides (DESIGN §15): the most specific row wins.

Event types, templates and e-mail layouts exist globally (tenant ``None``) and per tenant. The
processor renders with these rules and the admin's preview shows which row they pick, so both
read them from here.

Templates are looked up along the chain type+locale → type+its default locale → the channel
default ``"*"`` in the same locales → the seeded locales; at every step a tenant's row beats
the global one. So a template written for one event type still beats a tenant's own channel
default: the tenant's look comes from its e-mail layout, the words from the most specific text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TypeVar

T = TypeVar("T")
K = TypeVar("K")
Scope = str | None  # a tenant, or None for every tenant
DEFAULT_KEY = "*"  # the channel's default template, for event types without their own
FALLBACK_LOCALES = ("ru", "en")
TemplateKey = tuple[str, str, str]  # (event type or "*", channel, locale)


def most_specific(rows: Mapping[tuple[Scope, K], T], tenant: str, key: K) -> T | None:
    """The tenant's row for ``key``, else the global one, else None."""
    found = rows.get((tenant, key))
    return found if found is not None else rows.get((None, key))


def template_chain(
    type_key: str, channel: str, locale: str | None, default_locale: str
) -> Iterator[TemplateKey]:
    locales = dict.fromkeys([locale or default_locale, default_locale, *FALLBACK_LOCALES])
    for key in (type_key, DEFAULT_KEY):
        for loc in locales:
            yield (key, channel, loc)


def pick_template(
    rows: Mapping[tuple[Scope, TemplateKey], T],
    tenant: str,
    type_key: str,
    channel: str,
    locale: str | None,
    default_locale: str,
) -> T | None:
    """The template an event of ``tenant`` uses on ``channel`` for a reader in ``locale``."""
    for key in template_chain(type_key, channel, locale, default_locale):
        for scope in (tenant, None):
            found = rows.get((scope, key))
            if found is not None:
                return found
    return None
