"""Saved-filter subscriptions (DESIGN §5.2): candidates by the indexed
(tenant, source, entity_type, project_id), conditions evaluated in memory."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from itertools import islice
from operator import attrgetter
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Subscription
from libs.common.subscriptions.filter_match import TESTS, CompiledFilter, compile_filter
from libs.common.subscriptions.filter_subject import DEFAULT_ZONE, FieldRef, Subject, field_ref
from libs.common.subscriptions.filters import FilterError
from libs.common.subscriptions.reminders import Remind
from services.processor import pgsql
from services.processor.candidate_rows import MatchKey as MatchKey  # batch.py's import
from services.processor.candidate_rows import Triple, key_rows, version

log = logging.getLogger("herald.processor.matching")

Reminding = tuple[FieldRef, int]  # (the date's field, days before)
CACHE_SIZE = 200_000  # compiled subscriptions; ~0.6 KiB each
CACHE_TTL_S = 300.0
EVICT_SHARE = 10  # past the size, the oldest 1/10 go at once (not one per insert)
KEYS_PER_QUERY = 100  # index probes per statement
FETCH_CHUNK = 1_000  # ids per filter fetch


@dataclass(frozen=True, slots=True)
class Candidate:
    """A compiled subscription: two objects the garbage collector tracks (this and its filter,
    whose conditions are atomic tuples), however many conditions it has."""

    id: int
    user_id: str
    channels: tuple[str, ...]
    filter: CompiledFilter
    types: tuple[str, ...]  # event types it follows; empty: every type of its entity type
    remind: Reminding | None  # (the date field, days before): a deadline reminder
    version: int  # of the row it was compiled from (candidate_rows.version)
    loaded_at: float  # monotonic seconds

    def follows(self, event_type: str) -> bool:
        return not self.types or event_type in self.types


class CompiledCache:
    """Subscriptions compiled once and reused while their ``updated_at`` is unchanged (an edit
    through the API bumps it); ``ttl_s`` bounds how long an edit made behind the ORM's back
    (raw SQL) could go unseen. A plain dict: a cachetools TTLCache kept a tracked link object
    per entry for the collector to walk."""

    def __init__(self, size: int = CACHE_SIZE, ttl_s: float = CACHE_TTL_S) -> None:
        self._size, self._ttl_s = size, ttl_s
        self._valid: dict[int, Candidate] = {}
        self.valid, self.ttl_s = self._valid, ttl_s  # read straight by ``_parsed``
        self._broken: dict[int, int] = {}  # invalid filters, by the version seen

    def get(self, sub_id: int, updated_at: datetime | int, now: float) -> Candidate | bool | None:
        """The candidate, None for a known-broken row, False when it must be (re)loaded."""
        at = version(updated_at)
        found = self._valid.get(sub_id)
        if found is not None:
            fresh = found.version == at and now - found.loaded_at < self._ttl_s
            return found if fresh else False
        return None if self._broken.get(sub_id) == at else False

    def put(self, sub_id: int, updated_at: datetime | int, cand: Candidate | None) -> None:
        if cand is None:
            self._valid.pop(sub_id, None)
            self._broken[sub_id] = version(updated_at)
        else:
            self._broken.pop(sub_id, None)
            self._valid[sub_id] = cand
        for table in (self._valid, self._broken):
            if len(table) > self._size:
                for key in list(islice(table, self._size // EVICT_SHARE)):
                    del table[key]


_cache = CompiledCache()
# what a candidate is compiled from (pgsql.SUBSCRIPTIONS_SQL reads the same, in this order)
SUBSCRIPTION_COLUMNS = (
    Subscription.id, Subscription.user_id, Subscription.filter, Subscription.channels,
    Subscription.types, Subscription.remind, Subscription.updated_at,
)  # fmt: skip


def _remind(sub_id: int, raw: Any) -> Reminding | None:
    if raw is None:
        return None
    try:
        remind = Remind.model_validate(raw)
    except ValidationError as exc:  # a row edited by hand: the subscription still notifies
        log.warning("subscription %s has an invalid remind, ignored: %s", sub_id, exc)
        return None
    return field_ref(remind.scope, remind.field), remind.days_before


def _candidate(
    sub_id: int,
    user_id: str,
    raw: Any,
    channels: Any,
    types: Any,
    remind: Any,
    updated_at: datetime | int,
) -> Candidate | None:
    try:
        compiled = compile_filter(raw)
    except FilterError as exc:
        log.warning("subscription %s has an invalid filter, ignored: %s", sub_id, exc)
        return None
    return Candidate(
        sub_id, user_id, tuple(channels or ()), compiled, tuple(types or ()),
        _remind(sub_id, remind), version(updated_at), time.monotonic(),
    )  # fmt: skip


async def _fetch_subscriptions(session: AsyncSession, ids: list[int]) -> list[tuple[Any, ...]]:
    conn = await pgsql.driver(session)
    if conn is not None:
        return await pgsql.fetch(conn, pgsql.SUBSCRIPTIONS_SQL, ids)
    stmt = select(*SUBSCRIPTION_COLUMNS).where(Subscription.id.in_(ids))
    return [tuple(r) for r in (await session.execute(stmt)).all()]


def remember(*row: Any) -> Candidate | None:
    """Compile a subscription row (``SUBSCRIPTION_COLUMNS``) into the cache (None: its filter
    is broken)."""
    cand = _candidate(*row)
    _cache.put(row[0], row[-1], cand)
    return cand


async def _parsed(session: AsyncSession, ids: Sequence[int], versions: Sequence[int]) -> list[Any]:
    """Each subscription's compiled form at its version (None: a broken filter), fetching and
    compiling only those the cache does not hold. Taken from the cache before any await:
    another batch may evict or replace entries meanwhile."""
    now = time.monotonic()
    valid, ttl_s, get = _cache.valid, _cache.ttl_s, _cache.get
    found: list[Any] = []
    missing = []
    for sub_id, at in zip(ids, versions, strict=True):  # CompiledCache.get's fresh case inlined
        hit = valid.get(sub_id)
        if hit is not None and hit.version == at and now - hit.loaded_at < ttl_s:
            found.append(hit)
            continue
        cand = get(sub_id, at, now)
        if cand is False:
            missing.append(sub_id)
        found.append(cand)
    if not missing:
        return found
    fresh: dict[int, Candidate | None] = dict.fromkeys(missing)  # gone meanwhile: None
    for start in range(0, len(missing), FETCH_CHUNK):
        fetched = await _fetch_subscriptions(session, missing[start : start + FETCH_CHUNK])
        for row in fetched:
            fresh[row[0]] = remember(*row)
    return [fresh[i] if c is False else c for i, c in zip(ids, found, strict=True)]


_by_id = attrgetter("id")


async def candidates(
    session: AsyncSession, keys: Iterable[MatchKey]
) -> dict[MatchKey, list[Candidate]]:
    """Enabled subscriptions for each key, in id order; project-wide ones included."""
    wanted = list(dict.fromkeys(keys))
    out: dict[MatchKey, list[Candidate]] = {k: [] for k in wanted}
    for start in range(0, len(wanted), KEYS_PER_QUERY):
        chunk = wanted[start : start + KEYS_PER_QUERY]
        own = [k for k in chunk if k[3] is not None]
        by_triple: dict[Triple, list[MatchKey]] = {}
        for key in chunk:
            by_triple.setdefault(key[:3], []).append(key)
        triples = list(by_triple)
        rows = await key_rows(session, own, triples)
        every = await _parsed(  # one fetch for whatever the cache lacks
            session, [x for r in rows for x in r[2]], [x for r in rows for x in r[3]]
        )
        hi = 0
        for wide, i, ids, _ in rows:
            lo, hi = hi, hi + len(ids)
            found = [c for c in every[lo:hi] if c]
            for key in by_triple[triples[i - 1]] if wide else (own[i - 1],):
                out[key] += found
    for found in out.values():  # own then project-wide: two runs in id order
        found.sort(key=_by_id)
    return out


def _skipped(cand: Candidate, exc: Exception) -> None:
    log.warning("subscription %s skipped: its filter cannot be evaluated: %r", cand.id, exc)


# a row edited by hand may still hold values its op cannot evaluate
BROKEN = (TypeError, ValueError, IndexError, AttributeError)


def first_pass(cands: Iterable[Candidate], event_type: str, subject: Subject) -> list[Candidate]:
    """The candidates that follow the event's type and whose conditions that do not depend on
    the subscriber's time zone hold."""
    out: list[Candidate] = []
    keep, tests, zone = out.append, TESTS, DEFAULT_ZONE
    for c in cands:
        types = c.types
        if types and event_type not in types:
            continue
        try:  # CompiledFilter.holds_anywhere, inlined: this loop runs ~120 times per event
            for test, ref, value in c.filter.tests:
                if not tests[test](subject, ref, value, zone):
                    break
            else:
                keep(c)
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
