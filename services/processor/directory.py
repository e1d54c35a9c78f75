"""Enrichment (DESIGN §5 step 2): who the people an event mentions are.

``TableDirectory`` reads the ``recipients`` table in one query per tenant. ``HttpDirectory``
serves deployments whose user service lives elsewhere: it asks that service in one batch
call for the people missing from a TTL cache and overlays its answer on the table row (the
table keeps what only Herald knows, such as the linked Telegram chat).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from cachetools import TTLCache
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Recipient
from libs.common.recipients.directory import RecipientFields
from libs.common.runtime.errors import TransientError
from libs.common.subscriptions.filters import Person
from libs.common.templating.template_context import recipient_context
from services.processor import pgsql

if TYPE_CHECKING:  # httpx loads only when HERALD_DIRECTORY_URL is set (processor/app.py)
    import httpx

log = logging.getLogger("herald.processor.directory")

Key = tuple[str, str]  # (tenant, user_id)
HTTP_CACHE_SIZE = 50_000  # people; ~1 KiB each → ~50 MiB worst case
HTTP_BATCH = 200  # user ids per directory request (keeps the query string short)


@dataclass(frozen=True)
class Entry:
    """One person, as templates and channel choice see them."""

    user_id: str
    email: str | None = None
    telegram_chat_id: str | None = None
    locale: str | None = None
    timezone: str | None = None
    roles: frozenset[str] = frozenset()
    company_id: str | None = None
    manager_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    phone: str | None = None

    @property
    def person(self) -> Person:
        return Person(self.roles, self.company_id)

    def template_view(self) -> dict[str, Any]:
        return recipient_context(
            self.user_id,
            locale=self.locale,
            timezone=self.timezone,
            roles=self.roles,
            company_id=self.company_id,
            manager_id=self.manager_id,
            attributes=self.attributes,
        )


_R = Recipient
ENTRY_COLUMNS = (_R.user_id, _R.email, _R.telegram_chat_id, _R.locale, _R.timezone, _R.roles,
                 _R.company_id, _R.manager_id, _R.attributes, _R.phone)  # fmt: skip


class Directory(Protocol):
    async def lookup(self, session: AsyncSession, keys: Iterable[Key]) -> dict[Key, Entry]: ...


class TableDirectory:
    async def lookup(self, session: AsyncSession, keys: Iterable[Key]) -> dict[Key, Entry]:
        by_tenant: dict[str, set[str]] = defaultdict(set)
        for tenant, user_id in keys:
            by_tenant[tenant].add(user_id)
        conn = await pgsql.driver(session)
        found: dict[Key, Entry] = {}
        for tenant, users in by_tenant.items():
            if conn is not None:
                rows = await conn.fetch(pgsql.PEOPLE_SQL, tenant, list(users))
            else:
                stmt = select(*ENTRY_COLUMNS).where(_R.tenant == tenant, _R.user_id.in_(users))
                rows = [tuple(r) for r in (await session.execute(stmt)).all()]
            found.update({(tenant, r[0]): Entry(r[0], *_entry_fields(r)) for r in rows})
        return found


def _entry_fields(r: Sequence[Any]) -> tuple[Any, ...]:
    """Columns after user_id, in ENTRY_COLUMNS order, as Entry wants them."""
    email, chat, locale, tz, roles, company, manager, attributes, phone = r[1:]
    roles = frozenset(roles or ())
    return (email, chat, locale, tz, roles, company, manager, attributes or {}, phone)


class HttpDirectory:
    """``GET {url}/users?tenant=T&ids=a,b`` → ``{"users": [{"user_id": …, <RecipientFields>}]}``.

    A failed or malformed answer raises TransientError: the event stays ``received`` and is
    retried, rather than notifying people without their roles (a wrong subscription match)."""

    def __init__(self, client: httpx.AsyncClient, url: str, ttl_s: float) -> None:
        self._client, self._url = client, url.rstrip("/")
        self._cache: TTLCache[Key, Entry | None] = TTLCache(HTTP_CACHE_SIZE, ttl_s)
        self._table = TableDirectory()

    async def lookup(self, session: AsyncSession, keys: Iterable[Key]) -> dict[Key, Entry]:
        wanted = set(keys)
        table = await self._table.lookup(session, wanted)
        missing = [k for k in wanted if k not in self._cache]
        by_tenant: dict[str, list[str]] = defaultdict(list)
        for tenant, user_id in missing:
            by_tenant[tenant].append(user_id)
        for tenant, users in by_tenant.items():
            for start in range(0, len(users), HTTP_BATCH):
                await self._fetch(tenant, users[start : start + HTTP_BATCH])
        out: dict[Key, Entry] = {}
        for key in wanted:
            remote = self._cache.get(key)
            merged = _overlay(table.get(key), remote)
            if merged is not None:
                out[key] = merged
        return out

    async def _fetch(self, tenant: str, users: list[str]) -> None:
        import httpx  # already loaded: the client is one

        try:
            resp = await self._client.get(
                f"{self._url}/users", params={"tenant": tenant, "ids": ",".join(users)}
            )
            resp.raise_for_status()
            items = resp.json()["users"]
            parsed = {str(item["user_id"]): _entry(item) for item in items}
        except (httpx.HTTPError, ValueError, KeyError, TypeError, ValidationError) as exc:
            raise TransientError(f"directory service: {type(exc).__name__}: {exc}") from exc
        for user_id in users:  # unknown people are cached too, as None
            self._cache[(tenant, user_id)] = parsed.get(user_id)


def _entry(item: dict[str, Any]) -> Entry:
    fields = RecipientFields.model_validate({k: v for k, v in item.items() if k != "user_id"})
    return Entry(
        user_id=str(item["user_id"]),
        email=fields.email,
        telegram_chat_id=fields.telegram_chat_id,
        locale=fields.locale,
        timezone=fields.timezone,
        roles=frozenset(fields.roles or ()),
        company_id=fields.company_id,
        manager_id=fields.manager_id,
        attributes=fields.attributes or {},
        phone=fields.phone,
    )


def _overlay(base: Entry | None, remote: Entry | None) -> Entry | None:
    """The remote answer wins field by field; the table fills what the remote leaves out."""
    if remote is None or base is None:
        return remote or base
    return replace(
        remote,
        email=remote.email or base.email,
        telegram_chat_id=remote.telegram_chat_id or base.telegram_chat_id,
        locale=remote.locale or base.locale,
        timezone=remote.timezone or base.timezone,
        roles=remote.roles or base.roles,
        company_id=remote.company_id or base.company_id,
        manager_id=remote.manager_id or base.manager_id,
        attributes={**base.attributes, **remote.attributes},
        phone=remote.phone or base.phone,
    )
