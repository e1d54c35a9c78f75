"""People as they are in the event's project (DESIGN §5.2): the roles and companies that
``roles_any`` / ``companies_any`` conditions see, and an event's ``audience``.

Both read the directory's memberships (``recipient_projects``,
libs/common/recipients/memberships.py) from Herald's own table, whichever directory backs
enrichment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import RecipientProject
from libs.common.recipients.memberships import person_in
from libs.common.runtime.errors import PermanentError
from libs.common.schemas.envelope import EventEnvelope
from libs.common.subscriptions.filters import Person
from services.processor.directory import Entry
from services.processor.project_people import audience_reason, project_people


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
    store = project_people(session)
    held = {
        t: await store.memberships(session, t, users) for t, users in by_tenant.items() if users
    }
    out: dict[tuple[str, str | None], dict[str, Person]] = {}
    for (tenant, project), users in asked.items():
        known, member = people.get(tenant, {}), held.get(tenant, {})
        out[(tenant, project)] = {
            u: person_in(_everywhere(known.get(u)), member.get(u, {}), project) for u in users
        }
    return out


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


async def audience(
    session: AsyncSession, env: EventEnvelope, limit: int, named: Collection[str] = ()
) -> list[tuple[str, str]]:
    """(user, reason) of everyone the event's audience names in its project, by user id;
    PermanentError when, besides ``named`` (the event's own recipients, counted once whether
    or not the audience names them too), they are more than ``limit``
    (HERALD_MAX_RECIPIENTS_PER_EVENT less those recipients): one event must not fan out
    without bound (DESIGN §13)."""
    if env.audience is None:
        return []
    named = frozenset(named)
    members = await _members(session, env.tenant, env.project_id)
    rows = await project_people(session).audience_rows(
        session, env.tenant, env.audience, sorted(members), limit + len(members) + len(named) + 1
    )
    found = []
    for user_id, roles, company in rows:
        everywhere = Person(frozenset(roles or ()), company)
        project = env.project_id
        here = {project: members[user_id]} if project and user_id in members else {}
        reason = audience_reason(env.audience, person_in(everywhere, here, project))
        if reason is not None:
            found.append((user_id, reason))
    if sum(1 for user_id, _ in found if user_id not in named) > limit:
        raise PermanentError(
            f"too_many_recipients: the audience {env.audience.model_dump()} names more than "
            f"{limit} people besides the event's recipients (HERALD_MAX_RECIPIENTS_PER_EVENT "
            "less those)"
        )
    return found
