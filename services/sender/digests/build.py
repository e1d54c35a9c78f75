"""Claim due schedules and build their digests — flush only; the scheduler owns the commit.

Everything for one batch happens in the caller's transaction: the claimed schedule rows stay
locked (``FOR UPDATE SKIP LOCKED``) until the commit, so a second scheduler skips them, and a
crash before the commit rolls back the digest, its delivery, the DIGESTED marks and the
advanced schedule together. The unique (tenant, user, channel, window_end) on digests is the
last line should two builders ever get the same window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.clients.mediator_client import MediatorClient
from libs.common.db.models import DigestSchedule
from libs.common.delivery.digest_schedule import as_utc, latest_due_run, next_run_after
from services.sender.digests.collect import Item, Key, group, in_window, waiting_items
from services.sender.digests.permission import mark_denied, screen
from services.sender.digests.render import DigestTemplates, digest_context
from services.sender.digests.store import Plan, advance, store_digests
from services.sender.digests.writes import Advance


@dataclass
class BatchResult:
    claimed: int = 0
    delivery_ids: list[int] = field(default_factory=list)
    sizes: list[tuple[str, int]] = field(default_factory=list)  # (channel, items) per digest
    lags_s: list[float] = field(default_factory=list)
    empty: int = 0
    denied: int = 0


async def claim_due(
    session: AsyncSession, now: datetime, limit: int, only: Key | None = None
) -> list[DigestSchedule]:
    query = (
        select(DigestSchedule)
        .where(DigestSchedule.next_run_at <= now)
        .order_by(DigestSchedule.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)  # SQLite renders no FOR UPDATE: it has one writer
    )
    if only is not None:
        key = tuple_(DigestSchedule.tenant, DigestSchedule.user_id, DigestSchedule.channel)
        query = query.where(key == tuple_(*only))
    return list(await session.scalars(query))


def key_of(s: DigestSchedule) -> Key:
    return (s.tenant, s.user_id, s.channel)


def due_at(s: DigestSchedule) -> datetime:
    assert s.next_run_at is not None  # claimed rows are due
    return as_utc(s.next_run_at)


def window_end_of(s: DigestSchedule, now: datetime) -> datetime:
    """The due run, or — after downtime — the latest missed run: one digest, not a burst."""
    if not s.enabled:
        return due_at(s)  # a final digest of what was collected before switching off
    return latest_due_run(due_at(s), now, s.days_of_week, s.time_of_day, s.timezone)


async def build_batch(
    session: AsyncSession,
    schedules: Sequence[DigestSchedule],
    now: datetime,
    mediator: MediatorClient,
) -> BatchResult:
    keys = [key_of(s) for s in schedules]
    waiting = await waiting_items(session, keys)
    ends = {key_of(s): window_end_of(s, now) for s in schedules}
    due = {k: in_window(waiting.get(k, []), end) for k, end in ends.items()}
    screening = await screen(mediator, [i for items in due.values() for i in items])
    await mark_denied(session, screening.denied)
    templates = await DigestTemplates.load(session, keys)
    result = BatchResult(claimed=len(schedules), denied=len(screening.denied))
    plans: list[Plan] = []
    for s in schedules:
        result.lags_s.append((now - due_at(s)).total_seconds())
        items = screening.allowed(due[key_of(s)])
        if items:
            plans.append(_plan(s, ends[key_of(s)], items, templates))
        else:
            result.empty += 1
    if plans:
        result.delivery_ids = await store_digests(session, plans, now)
        result.sizes = [(p.schedule.channel, len(p.items)) for p in plans]
    await advance(session, [_advanced(s, ends[key_of(s)], now) for s in schedules])
    return result


def _plan(s: DigestSchedule, end: datetime, items: list[Item], t: DigestTemplates) -> Plan:
    start = as_utc(s.window_start)
    ctx = digest_context(group(items), start, end, s.timezone, s.channel)
    return Plan(s, start, end, items, t.render(key_of(s), ctx))


def _advanced(s: DigestSchedule, end: datetime, now: datetime) -> Advance:
    """The next window starts where this one ended; the next run follows the current terms."""
    following = next_run_after(end, s.days_of_week, s.time_of_day, s.timezone)
    return Advance(key_of(s), end, following if s.enabled else None, now)
