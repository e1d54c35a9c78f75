"""Inbox visibility (libs/common/inbox/access.py): recording what a permission check found, and the
visibility checker for notifications nobody checks at send time.

A notification becomes visible in the inbox only once checked. Usually its first delivery's
send-time check does it (``record``, called by the send loop before anything is sent). A
notification with no instant delivery (only DIGEST or SKIPPED ones, or none at all) is
checked by the checker instead: every ``visibility_interval_s`` it claims unchecked rows older
than ``visibility_grace_s`` (the send loop usually gets there first, and one question asked
twice costs a mediator cache hit), ``FOR UPDATE SKIP LOCKED`` so two senders split the work,
asks the mediator once per batch and tenant, and records the answers. Every user whose
visible items changed gets a counts push, so the badge moves whatever the channels.

Denials are written in the claim's transaction; reveals (``allowed``) in a transaction of
their own afterwards, because ``reveal`` locks the user's cursor row before the notification
rows, and holding notification rows while waiting for a user's row could deadlock with a
browser delivery revealing the same item in the opposite order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus
from libs.common.clients.mediator_client import MediatorClient, MediatorUnavailable
from libs.common.db.engine import transaction
from libs.common.db.models import Notification, utcnow
from libs.common.inbox.access import User, Verdict, deny, ids_with, judge_rows
from libs.common.inbox.counts_push import push_counts_of
from libs.common.inbox.inbox_cursor import reveal
from libs.common.runtime.settings import HeraldSettings

log = logging.getLogger("herald.sender.visibility")

CHECKED_COLUMNS = (
    Notification.id,
    Notification.tenant,
    Notification.user_id,
    Notification.source,
    Notification.project_id,
    Notification.entity_type,
    Notification.entity_id,
)


class VisibilitySettings(HeraldSettings):
    visibility_interval_s: float = Field(
        default=1.0, gt=0, description="how often unchecked notifications are looked for"
    )
    visibility_grace_s: float = Field(
        default=2.0, ge=0, description="a notification this young is left to the send loop"
    )
    visibility_batch: int = Field(
        default=500, ge=1, le=5000, description="notifications per claim (one mediator batch)"
    )


async def record(
    sessions: async_sessionmaker[AsyncSession], bus: Bus | None, verdicts: Mapping[int, Verdict]
) -> None:
    """Write what a check decided (denials, then reveals) and nudge the users' counters.

    Best effort: with the database gone the batch in hand is still sent (its outcomes wait
    for the database, DESIGN §6); what could not be written stays unchecked, hence hidden,
    and the checker decides it once the database is back."""
    changed: set[User] = set()
    try:
        denied = ids_with(verdicts, Verdict.DENIED)
        if denied:
            async with transaction(sessions) as session:
                changed |= await deny(session, denied)
        changed |= await _reveal(sessions, ids_with(verdicts, Verdict.ALLOWED))
    except Exception as exc:
        log.warning("inbox visibility not recorded (the checker will decide): %r", exc)
    await push_counts_of(bus, sessions, changed)


async def _reveal(sessions: async_sessionmaker[AsyncSession], ids: list[int]) -> set[User]:
    if not ids:
        return set()
    async with transaction(sessions) as session:
        return {(r.tenant, r.user_id) for r in await reveal(session, ids)}


class VisibilityChecker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus | None,
        mediator: MediatorClient,
        settings: VisibilitySettings,
    ) -> None:
        self._sessions, self._bus, self._mediator, self._s = sessions, bus, mediator, settings
        # where the next claim starts: rows left undecided (a module that cannot answer) are
        # asked again once per round, never ahead of everyone else's
        self._after = 0

    async def run_forever(self) -> None:
        while True:
            claimed = 0
            try:
                claimed = await self.run_once()
            except MediatorUnavailable as exc:
                log.warning("visibility check postponed: %s", exc)
            except Exception:
                log.exception("visibility check failed; trying again next interval")
            if claimed < self._s.visibility_batch:
                await asyncio.sleep(self._s.visibility_interval_s)

    async def run_once(self) -> int:
        """One claimed batch; returns how many notifications it held."""
        cutoff = utcnow() - timedelta(seconds=self._s.visibility_grace_s)
        async with transaction(self._sessions) as session:
            rows = await self._claim(session, cutoff)
            verdicts = await judge_rows(self._mediator, rows) if rows else {}
            await deny(session, ids_with(verdicts, Verdict.DENIED))  # hidden before: no push
        full = len(rows) == self._s.visibility_batch
        self._after = rows[-1].id if full else 0
        revealed = await _reveal(self._sessions, ids_with(verdicts, Verdict.ALLOWED))
        await push_counts_of(self._bus, self._sessions, revealed)
        return len(rows)

    async def _claim(self, session: AsyncSession, cutoff: datetime) -> list[Any]:
        query = (
            select(*CHECKED_COLUMNS)
            .where(
                Notification.access.is_(None),
                Notification.id > self._after,
                Notification.created_at <= cutoff,
            )
            .order_by(Notification.id)
            .limit(self._s.visibility_batch)
            .with_for_update(skip_locked=True)  # another sender's checker skips these rows
        )
        return list((await session.execute(query)).all())


def start(
    sessions: async_sessionmaker[AsyncSession],
    bus: Bus | None,
    mediator: MediatorClient,
    settings: VisibilitySettings,
) -> list[asyncio.Task[None]]:
    """The checker loop as a task for the sender's lifespan; cancelling it stops it (an open
    claim rolls back and its rows are claimable again)."""
    checker = VisibilityChecker(sessions, bus, mediator, settings)
    return [asyncio.create_task(checker.run_forever())]
