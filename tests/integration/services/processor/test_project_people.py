"""services/processor/project_people.py: memberships and an audience's candidates read the same
on PostgreSQL (arrays, JSON containment in SQL) and on SQLite (SQLAlchemy, filtered in
Python)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.recipients.directory import RecipientFields, upsert_recipient
from libs.common.schemas.envelope import Audience
from libs.common.subscriptions.filters import Person
from services.processor.project_people import project_people
from tests.databases import KINDS, migrated

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(params=KINDS)
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, template_database: str
) -> AsyncIterator[Sessions]:
    async with migrated(request.param, tmp_path, template_database) as sessions:
        yield sessions


async def _people(db: Sessions) -> None:
    people: dict[str, dict[str, Any]] = {
        "ann": {"roles": ["designer"], "company_id": "c-1"},
        "bob": {"roles": ["installer"], "company_id": "c-5",
                "projects": {"P-42": {"roles": ["designer"], "company_id": "c-6"}}},
        "cat": {"roles": [], "company_id": "c-5"},
        "dan": {"roles": ["designer", "installer"], "company_id": "c-5",
                "projects": {"P-43": {"roles": ["manager"]}}},
        "eve": {"roles": ["designer"]},
    }  # fmt: skip
    async with transaction(db) as session:
        for user, fields in people.items():
            await upsert_recipient(session, "acme", user, RecipientFields(**fields))
        await upsert_recipient(session, "beta", "ann", RecipientFields(roles=["designer"]))


async def _rows(db: Sessions, members: list[str], limit: int = 10, **asked: Any) -> list[Any]:
    async with db() as session:
        rows = await project_people(session).audience_rows(
            session, "acme", Audience(**asked), members, limit
        )
    return [(u, sorted(r or []), c) for u, r, c in rows]


async def test_memberships_by_person_and_project(db: Sessions) -> None:
    await _people(db)
    async with db() as session:
        found = await project_people(session).memberships(session, "acme", {"bob", "dan", "eve"})
    assert {u: dict(p) for u, p in found.items()} == {
        "bob": {"P-42": Person(frozenset({"designer"}), "c-6")},
        "dan": {"P-43": Person(frozenset({"manager"}), None)},
    }


async def test_an_audience_by_roles_companies_and_members(db: Sessions) -> None:
    await _people(db)
    designers = await _rows(db, [], roles=["designer"])
    assert [r[0] for r in designers] == ["ann", "dan", "eve"]  # acme's only, by user id
    assert designers[0] == ("ann", ["designer"], "c-1")
    assert [r[0] for r in await _rows(db, ["bob"], roles=["designer"])] == [
        "ann", "bob", "dan", "eve"
    ]  # fmt: skip  # a member is a candidate whatever their roles everywhere
    c5 = await _rows(db, [], roles=["installer", "manager"], companies=["c-5"])
    assert [r[0] for r in c5] == ["bob", "dan"]
    assert [r[0] for r in await _rows(db, [], companies=["c-5"])] == ["bob", "cat", "dan"]
    assert [r[0] for r in await _rows(db, [], limit=2, roles=["designer"])] == ["ann", "dan"]
