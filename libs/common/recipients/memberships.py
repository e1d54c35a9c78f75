"""Roles and companies per project (DESIGN §5.2): who someone is *in a project*.

The directory keeps a person's roles and company everywhere (``recipients.roles``,
``company_id``) and, per project, the ones they hold there (``recipient_projects``). In a
project a person holds their roles everywhere plus that project's, and belongs to that
project's company if one is set, else to their own. ``roles_any`` / ``companies_any`` and an
event's ``audience`` are evaluated this way in the event's project, by the processor and by
the preview alike (``person_in``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import RecipientProject, utcnow
from libs.common.subscriptions.filters import Person

MAX_PROJECTS = 500  # per person in one directory update
MAX_PROJECT_ROLES = 100
QUERY_CHUNK = 1_000  # user ids per IN list
Role = Annotated[str, Field(min_length=1, max_length=64)]
ProjectId = Annotated[str, Field(min_length=1, max_length=128)]


class Membership(BaseModel):
    """What someone is in one project."""

    model_config = ConfigDict(extra="forbid")

    roles: list[Role] = Field(default_factory=list, max_length=MAX_PROJECT_ROLES)
    company_id: str | None = Field(default=None, min_length=1, max_length=128)


ByProject = Mapping[str, Person]  # project id → the person's roles and company there


def person_in(everywhere: Person, projects: ByProject, project_id: str | None) -> Person:
    """Someone as they are in ``project_id`` (an event without a project: everywhere)."""
    there = projects.get(project_id) if project_id is not None else None
    if there is None:
        return everywhere
    return Person(everywhere.roles | there.roles, there.company_id or everywhere.company_id)


async def memberships(
    session: AsyncSession, tenant: str, users: Iterable[str]
) -> dict[str, dict[str, Person]]:
    """user → project → membership, for these users (one query per thousand)."""
    wanted = list(dict.fromkeys(users))
    found: dict[str, dict[str, Person]] = defaultdict(dict)
    rp = RecipientProject
    for start in range(0, len(wanted), QUERY_CHUNK):
        rows = await session.execute(
            select(rp.user_id, rp.project_id, rp.roles, rp.company_id).where(
                rp.tenant == tenant, rp.user_id.in_(wanted[start : start + QUERY_CHUNK])
            )
        )
        for user_id, project_id, roles, company_id in rows.all():
            found[user_id][project_id] = Person(frozenset(roles or ()), company_id)
    return dict(found)


async def replace_memberships(
    session: AsyncSession, tenant: str, user_id: str, projects: Mapping[str, Membership]
) -> None:
    """The person's memberships become exactly ``projects`` (flush only)."""
    rp = RecipientProject
    await session.execute(delete(rp).where(rp.tenant == tenant, rp.user_id == user_id))
    rows = [
        {"tenant": tenant, "user_id": user_id, "project_id": project,
         "roles": list(dict.fromkeys(m.roles)), "company_id": m.company_id, "updated_at": utcnow()}
        for project, m in projects.items()
    ]  # fmt: skip
    if rows:
        await session.execute(insert(rp), rows)


async def memberships_of(session: AsyncSession, tenant: str, user_id: str) -> dict[str, Membership]:
    """One person's memberships as the directory API shows them."""
    found = (await memberships(session, tenant, [user_id])).get(user_id, {})
    return {
        project: Membership(roles=sorted(p.roles), company_id=p.company_id)
        for project, p in sorted(found.items())
    }
