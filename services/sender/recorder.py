"""Group commit for outcomes: sends finish one by one, their outcomes are written together.

One transaction per delivery would cap sending at the database's commit rate; here whatever
finished while the previous write ran goes into the next one (typically tens of rows per
commit). If the database is down, writing is retried until the rows' lease would expire —
after that another sender may own them, and the guarded update would be a no-op anyway.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from services.sender import metrics as m
from services.sender.outcome import Outcome, record

log = logging.getLogger("herald.sender")

WRITE_RETRY_S = (0.1, 0.5, 1.0, 2.0, 5.0)
# Outcomes wait this long for company before a commit: ~25 rows per commit at 500 mails/s
# instead of a handful, at the price of a 50 ms wider "sent but not yet recorded" window.
LINGER_S = 0.05


class OutcomeRecorder:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], lease_s: float) -> None:
        self._sessions, self._lease_s = sessions, lease_s
        self._pending: list[Outcome] = []
        self._wake = asyncio.Event()

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def add(self, outcomes: Iterable[Outcome]) -> None:
        for o in outcomes:
            m.BY_KIND[o.kind].labels(o.channel).inc()
            self._pending.append(o)
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(LINGER_S)  # let a few more finish: one commit for all of them
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        deadline = time.monotonic() + self._lease_s
        for attempt in itertools.count():
            try:
                async with transaction(self._sessions) as session:
                    await record(session, batch)
                return
            except Exception:
                if time.monotonic() > deadline:
                    m.UNRECORDED.inc(len(batch))
                    log.exception("dropping %d outcomes: lease expired", len(batch))
                    return
                log.exception("could not record %d outcomes; retrying", len(batch))
                await asyncio.sleep(WRITE_RETRY_S[min(attempt, len(WRITE_RETRY_S) - 1)])
