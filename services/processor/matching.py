"""Saved-filter subscriptions (DESIGN §5.2): candidates by the indexed
(tenant, source, entity_type, project_id), conditions evaluated in memory."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from cachetools import TTLCache
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Subscription
from libs.common.filters import (
    Condition,
    FilterError,
    MatchContext,
    Op,
    matches,
)
from services.processor import pgsql

log = logging.getLogger("herald.processor.matching")

MatchKey = tuple[str, str, str, str | None]  # (tenant, source, entity_type, project_id)
CACHE_SIZE = 200_000  # parsed subscriptions; ~1 KiB each
CACHE_TTL_S = 300.0
KEYS_PER_QUERY = 100  # index probes per statement
FETCH_CHUNK = 1_000  # ids per filter fetch
ENRICHED_OPS = frozenset({"roles_any", "companies_any"})  # need the directory
OPS = frozenset(get_args(Op))
CONDITION_KEYS = {"field", "op", "value"}


@dataclass(frozen=True)
class Candidate:
    id: int
    user_id: str
    channels: tuple[str, ...]
    conditions: tuple[Condition, ...]
    person_fields: frozenset[str]  # attributes naming people whose roles/company matter


# (id, updated_at) -> the parsed subscription; an edit bumps updated_at and so re-parses. The
# TTL bounds how long an edit made behind the ORM's back (raw SQL) could go unseen.
_cache: TTLCache[tuple[int, datetime], Candidate | None] = TTLCache(CACHE_SIZE, CACHE_TTL_S)
KeyRow = tuple[int, str, str, str, str | None, datetime]


def _stored_conditions(raw: Any) -> tuple[Condition, ...]:
    """A stored filter was validated when it was saved (a 422 otherwise), so only its shape
    is checked here: full validation of every condition cost more than evaluating it. A
    hand-edited row that is still wrong fails at evaluation, which skips that subscription."""
    if not isinstance(raw, list):
        raise FilterError(None, "a filter is a list of conditions")
    out = []
    for index, cond in enumerate(raw):
        if not (isinstance(cond, dict) and cond.keys() == CONDITION_KEYS and cond["op"] in OPS):
            raise FilterError(index, f"not a condition: {cond!r}"[:200])
        out.append(Condition.model_construct(**cond))
    return tuple(out)


def _candidate(sub_id: int, user_id: str, raw: Any, channels: Any) -> Candidate | None:
    try:
        conditions = _stored_conditions(raw)
    except FilterError as exc:
        log.warning("subscription %s has an invalid filter, ignored: %s", sub_id, exc)
        return None
    fields = frozenset(c.field for c in conditions if c.op in ENRICHED_OPS)
    return Candidate(sub_id, user_id, tuple(channels or ()), conditions, fields)


async def _key_rows(session: AsyncSession, keys: list[MatchKey]) -> list[KeyRow]:
    """Two index probes per key: the key's own project, and the project-wide rows."""
    own = [k for k in keys if k[3] is not None]
    triples = list(dict.fromkeys(k[:3] for k in keys))
    conn = await pgsql.driver(session)
    if conn is not None:
        args = (*pgsql.columns(own, 4), *pgsql.columns(triples, 3))
        return await pgsql.fetch(conn, pgsql.SUBSCRIPTION_KEYS_SQL, *args)
    s = Subscription
    cols = (s.id, s.tenant, s.source, s.entity_type, s.project_id, s.updated_at)
    stmts = [
        select(*cols).where(
            s.enabled.is_(True),
            s.project_id.is_(None),
            tuple_(s.tenant, s.source, s.entity_type).in_(triples),
        )
    ]
    if own:
        stmts.append(select(*cols).where(
            s.enabled.is_(True), tuple_(s.tenant, s.source, s.entity_type, s.project_id).in_(own)
        ))  # fmt: skip
    rows: list[KeyRow] = []
    for stmt in stmts:
        rows.extend(tuple(r) for r in (await session.execute(stmt)).all())  # type: ignore[misc]
    return rows


async def _fetch_subscriptions(session: AsyncSession, ids: list[int]) -> list[tuple[Any, ...]]:
    conn = await pgsql.driver(session)
    if conn is not None:
        return await pgsql.fetch(conn, pgsql.SUBSCRIPTIONS_SQL, ids)
    s = Subscription
    stmt = select(s.id, s.user_id, s.filter, s.channels, s.updated_at).where(s.id.in_(ids))
    return [tuple(r) for r in (await session.execute(stmt)).all()]


async def _parsed(session: AsyncSession, rows: list[KeyRow]) -> dict[int, Candidate | None]:
    """The rows' parsed subscriptions, fetching filters only for rows not cached."""
    found: dict[int, Candidate | None] = {}
    missing = []
    for row in rows:
        key = (row[0], row[5])
        if key in _cache:
            found[row[0]] = _cache[key]
        else:
            missing.append(row[0])
    for start in range(0, len(missing), FETCH_CHUNK):
        fetched = await _fetch_subscriptions(session, missing[start : start + FETCH_CHUNK])
        for sub_id, user_id, raw, channels, updated_at in fetched:
            cand = _candidate(sub_id, user_id, raw, channels)
            found[sub_id] = _cache[(sub_id, updated_at)] = cand
    return found


async def candidates(
    session: AsyncSession, keys: Iterable[MatchKey]
) -> dict[MatchKey, list[Candidate]]:
    """Enabled subscriptions for each key, in id order; project-wide ones included."""
    wanted = list(dict.fromkeys(keys))
    out: dict[MatchKey, list[Candidate]] = {k: [] for k in wanted}
    by_triple: dict[tuple[str, str, str], list[MatchKey]] = {}
    for key in wanted:
        by_triple.setdefault(key[:3], []).append(key)
    for start in range(0, len(wanted), KEYS_PER_QUERY):
        rows = sorted(await _key_rows(session, wanted[start : start + KEYS_PER_QUERY]))
        parsed = await _parsed(session, rows)
        for sub_id, tenant, source, entity_type, project_id, _ in rows:
            cand = parsed.get(sub_id)
            if cand is None:
                continue
            if project_id is None:
                targets = by_triple.get((tenant, source, entity_type), [])
            else:
                targets = [(tenant, source, entity_type, project_id)]
            for key in targets:
                if key in out:
                    out[key].append(cand)
    return out


def people_needed(cands: Iterable[Candidate], attributes: dict[str, Any]) -> set[str]:
    """People whose roles/company the candidates' conditions ask about."""
    fields: set[str] = set()
    for cand in cands:
        fields |= cand.person_fields
    wanted: set[str] = set()
    for name in fields:
        value = attributes.get(name)
        if isinstance(value, str):
            wanted.add(value)
        elif isinstance(value, list):
            wanted.update(x for x in value if isinstance(x, str))
    return wanted


def _holds(cand: Candidate, attributes: dict[str, Any], ctx: MatchContext) -> bool:
    try:
        return matches(cand.conditions, attributes, ctx)
    except (TypeError, ValueError, IndexError, AttributeError) as exc:  # a hand-edited row
        log.warning("subscription %s skipped: its filter cannot be evaluated: %r", cand.id, exc)
        return False


def matching(
    cands: Iterable[Candidate], attributes: dict[str, Any], ctx: MatchContext
) -> list[Candidate]:
    return [c for c in cands if _holds(c, attributes, ctx)]
