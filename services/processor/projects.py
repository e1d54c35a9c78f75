"""People as they are in the event's project (DESIGN §5.2): the roles and companies that
``roles_any`` / ``companies_any`` conditions see, and an event's ``audience``.

Both read the directory's memberships (``recipient_projects``, libs/common/memberships.py)
from Herald's own table, whichever directory backs enrichment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.engine import dialect_name
from libs.common.db.models import Recipient, RecipientProject
from libs.common.errors import PermanentError
from libs.common.filters import Person
from libs.common.memberships import memberships, person_in
from libs.common.schemas.envelope import Audience, EventEnvelope
from services.processor import pgsql
from services.processor.directory import Entry

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


async def people_in_projects(
    session: AsyncSession,
    asked: Mapping[tuple[str, str | None], set[str]],
    people: Mapping[str, Mapping[str, Entry]],
) -> dict[tuple[str, str | None], dict[str, Person]]:
    """For each (tenant, project): the asked-about people as they are in that project (one
    memberships query per tenant)."""
    by_tenant: dict[str, set[str]] = defaultdict(set)
    for (tenant, _), users in asked.items():
        by_tenant[tenant] |= users
    held = {t: await _memberships(session, t, users) for t, users in by_tenant.items() if users}
    out: dict[tuple[str, str | None], dict[str, Person]] = {}
    for (tenant, project), users in asked.items():
        known, member = people.get(tenant, {}), held.get(tenant, {})
        out[(tenant, project)] = {
            u: person_in(_everywhere(known.get(u)), member.get(u, {}), project) for u in users
        }
    return out


async def _memberships(
    session: AsyncSession, tenant: str, users: set[str]
) -> dict[str, dict[str, Person]]:
    """libs/common/memberships.py's read; on PostgreSQL one prepared statement over an array
    (pgsql.py: the expanding IN cost ~20 ms of statement building per batch)."""
    conn = await pgsql.driver(session)
    if conn is None:
        return await memberships(session, tenant, users)
    found: dict[str, dict[str, Person]] = defaultdict(dict)
    for user_id, project, roles, company in await pgsql.fetch(
        conn, pgsql.MEMBERSHIPS_SQL, tenant, list(users)
    ):
        found[user_id][project] = Person(frozenset(roles or ()), company)
    return found


def _everywhere(entry: Entry | None) -> Person:
    return entry.person if entry is not None else Person()


async def _members(session: AsyncSession, tenant: str, project: str | None) -> dict[str, Person]:
    if project is None:
        return {}
    rp = RecipientProject
    rows = await session.execute(
        select(rp.user_id, rp.roles, rp.company_id).where(
            rp.tenant == tenant, rp.project_id == project
        )
    )
    return {u: Person(frozenset(roles or ()), company) for u, roles, company in rows.all()}


async def _everywhere_rows(
    session: AsyncSession, tenant: str, audience: Audience, members: list[str], limit: int
) -> list[Any]:
    if dialect_name(session) == "postgresql":
        params = {"tenant": tenant, "roles": audience.roles, "companies": audience.companies,
                  "members": members, "limit": limit}  # fmt: skip
        return list((await session.execute(_EVERYWHERE_SQL, params)).all())
    # SQLite (herald dev, a few people): no JSON containment operator; filter here
    r = Recipient
    rows = await session.execute(
        select(r.user_id, r.roles, r.company_id).where(r.tenant == tenant).order_by(r.user_id)
    )
    return [
        row for row in rows.all()
        if row[0] in members or _reason(audience, Person(frozenset(row[1] or ()), row[2]))
    ][:limit]  # fmt: skip


def _reason(audience: Audience, person: Person) -> str | None:
    """``audience:<role>`` (the first asked role they hold), ``audience:company:<id>`` when
    only companies were asked; None when they are not in the audience."""
    if audience.companies and person.company_id not in audience.companies:
        return None
    if not audience.roles:
        return f"audience:company:{person.company_id}"
    held = [r for r in audience.roles if r in person.roles]
    return f"audience:{held[0]}" if held else None


async def audience(session: AsyncSession, env: EventEnvelope, limit: int) -> list[tuple[str, str]]:
    """(user, reason) of everyone the event's audience names in its project, by user id;
    PermanentError when they are more than ``limit`` (HERALD_MAX_RECIPIENTS_PER_EVENT less
    the event's own recipients): one event must not fan out without bound (DESIGN §13)."""
    if env.audience is None:
        return []
    members = await _members(session, env.tenant, env.project_id)
    rows = await _everywhere_rows(
        session, env.tenant, env.audience, sorted(members), limit + len(members) + 1
    )
    found = []
    for user_id, roles, company in rows:
        everywhere = Person(frozenset(roles or ()), company)
        project = env.project_id
        here = {project: members[user_id]} if project and user_id in members else {}
        reason = _reason(env.audience, person_in(everywhere, here, project))
        if reason is not None:
            found.append((user_id, reason))
    if len(found) > limit:
        raise PermanentError(
            f"too_many_recipients: the audience {env.audience.model_dump()} names more than "
            f"{limit} people (HERALD_MAX_RECIPIENTS_PER_EVENT less the event's recipients)"
        )
    return found
