"""Saved-filter subscriptions (DESIGN §5.2): candidates by the indexed
(tenant, source, entity_type, project_id), conditions evaluated in memory."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from cachetools import TTLCache
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Subscription
from libs.common.filter_match import CompiledFilter, compile_filter
from libs.common.filter_subject import Subject
from libs.common.filters import FilterError
from services.processor import pgsql

log = logging.getLogger("herald.processor.matching")

MatchKey = tuple[str, str, str, str | None]  # (tenant, source, entity_type, project_id)
CACHE_SIZE = 200_000  # parsed subscriptions; ~1 KiB each
CACHE_TTL_S = 300.0
KEYS_PER_QUERY = 100  # index probes per statement
FETCH_CHUNK = 1_000  # ids per filter fetch


@dataclass(frozen=True)
class Candidate:
    id: int
    user_id: str
    channels: tuple[str, ...]
    filter: CompiledFilter
    types: frozenset[str]  # event types it follows; empty: every type of its entity type

    def follows(self, event_type: str) -> bool:
        return not self.types or event_type in self.types


# (id, updated_at) -> the parsed subscription; an edit bumps updated_at and so re-parses. The
# TTL bounds how long an edit made behind the ORM's back (raw SQL) could go unseen.
_cache: TTLCache[tuple[int, datetime], Candidate | None] = TTLCache(CACHE_SIZE, CACHE_TTL_S)
KeyRow = tuple[int, str, str, str, str | None, datetime]


def _candidate(sub_id: int, user_id: str, raw: Any, channels: Any, types: Any) -> Candidate | None:
    try:
        compiled = compile_filter(raw)
    except FilterError as exc:
        log.warning("subscription %s has an invalid filter, ignored: %s", sub_id, exc)
        return None
    return Candidate(sub_id, user_id, tuple(channels or ()), compiled, frozenset(types or ()))


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
    cols = (s.id, s.user_id, s.filter, s.channels, s.types, s.updated_at)
    stmt = select(*cols).where(s.id.in_(ids))
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
        for sub_id, user_id, raw, channels, types, updated_at in fetched:
            cand = _candidate(sub_id, user_id, raw, channels, types)
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


def _skipped(cand: Candidate, exc: Exception) -> None:
    log.warning("subscription %s skipped: its filter cannot be evaluated: %r", cand.id, exc)


# a row edited by hand may still hold values its op cannot evaluate
BROKEN = (TypeError, ValueError, IndexError, AttributeError)


def first_pass(cands: Iterable[Candidate], event_type: str, subject: Subject) -> list[Candidate]:
    """The candidates that follow the event's type and whose conditions that do not depend on
    the subscriber's time zone hold."""
    out = []
    for c in cands:
        try:
            if c.follows(event_type) and c.filter.holds_anywhere(subject):
                out.append(c)
        except BROKEN as exc:
            _skipped(c, exc)
    return out


def second_pass(
    passed: Iterable[Candidate], subject: Subject, zone_of: Callable[[str], tzinfo]
) -> list[Candidate]:
    """Of the first pass, those whose date conditions hold in their subscriber's zone."""
    out = []
    for c in passed:
        try:
            if not c.filter.needs_zone or c.filter.holds_in(subject, zone_of(c.user_id)):
                out.append(c)
        except BROKEN as exc:
            _skipped(c, exc)
    return out
