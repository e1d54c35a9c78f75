"""Who is in a project, read from Herald's own tables (``recipients``, ``recipient_projects``)
for projects.py: one interface, :func:`project_people` picks the implementation.

* PostgreSQL: memberships by one prepared statement over an array (pgsql.py: the expanding IN
  cost ~20 ms of statement building per batch); the audience filtered in SQL, by the JSON
  containment of ``roles``.
* Portable (SQLite, ``herald dev``, a few people): SQLAlchemy statements; no JSON containment
  operator, so the audience is filtered here by :func:`audience_reason` — the rule the SQL
  spells out too.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Protocol

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.dialect import for_dialect
from libs.common.db.models import Recipient
from libs.common.recipients.memberships import memberships
from libs.common.schemas.envelope import Audience
from libs.common.subscriptions.filters import Person
from services.processor import pgsql

# Everyone in the audience by their roles and company everywhere, plus the project's members
# (their roles and company there change the answer). Every row but a member's is in the
# audience, so a limit of (allowed + members + 1) rows is enough to tell "too many".
_EVERYWHERE_SQL = text(
    "SELECT user_id, roles, company_id FROM recipients WHERE tenant = :tenant AND ("
    "(cardinality(CAST(:roles AS text[])) = 0 OR jsonb_exists_any(roles, CAST(:roles AS text[])))"
    " AND (cardinality(CAST(:companies AS text[])) = 0"
    " OR company_id = ANY(CAST(:companies AS text[])))"
    " OR user_id = ANY(CAST(:members AS text[]))) ORDER BY user_id LIMIT :limit"
)


def audience_reason(audience: Audience, person: Person) -> str | None:
    """``audience:<role>`` (the first asked role they hold), ``audience:company:<id>`` when
    only companies were asked; None when they are not in the audience."""
    if audience.companies and person.company_id not in audience.companies:
        return None
    if not audience.roles:
        return f"audience:company:{person.company_id}"
    held = [r for r in audience.roles if r in person.roles]
    return f"audience:{held[0]}" if held else None


class ProjectPeople(Protocol):
    async def memberships(
        self, session: AsyncSession, tenant: str, users: set[str]
    ) -> dict[str, dict[str, Person]]:
        """user → project → their roles and company there
        (libs/common/recipients/memberships.py)."""

    async def audience_rows(
        self, session: AsyncSession, tenant: str, audience: Audience, members: list[str], limit: int
    ) -> list[Any]:
        """(user_id, roles, company_id) of the tenant's people in ``audience`` by their roles
        and company everywhere, and of ``members``; by user id, at most ``limit``."""


class OnPostgresql:
    async def memberships(
        self, session: AsyncSession, tenant: str, users: set[str]
    ) -> dict[str, dict[str, Person]]:
        conn = await pgsql.driver(session)
        found: dict[str, dict[str, Person]] = defaultdict(dict)
        for user_id, project, roles, company in await pgsql.fetch(
            conn, pgsql.MEMBERSHIPS_SQL, tenant, list(users)
        ):
            found[user_id][project] = Person(frozenset(roles or ()), company)
        return found

    async def audience_rows(
        self, session: AsyncSession, tenant: str, audience: Audience, members: list[str], limit: int
    ) -> list[Any]:
        params = {"tenant": tenant, "roles": audience.roles, "companies": audience.companies,
                  "members": members, "limit": limit}  # fmt: skip
        return list((await session.execute(_EVERYWHERE_SQL, params)).all())


class Portable:
    async def memberships(
        self, session: AsyncSession, tenant: str, users: set[str]
    ) -> dict[str, dict[str, Person]]:
        return await memberships(session, tenant, users)

    async def audience_rows(
        self, session: AsyncSession, tenant: str, audience: Audience, members: list[str], limit: int
    ) -> list[Any]:
        r = Recipient
        rows = await session.execute(
            select(r.user_id, r.roles, r.company_id).where(r.tenant == tenant).order_by(r.user_id)
        )
        return [
            row for row in rows.all()
            if row[0] in members
            or audience_reason(audience, Person(frozenset(row[1] or ()), row[2]))
        ][:limit]  # fmt: skip


ON_POSTGRESQL: ProjectPeople = OnPostgresql()
PORTABLE: ProjectPeople = Portable()


def project_people(session: AsyncSession) -> ProjectPeople:
    return for_dialect(session, postgresql=ON_POSTGRESQL, portable=PORTABLE)
