"""Admin login throttling per account and per client address (table admin_login_throttle).

Every login attempt is counted, before the password is checked, against two keys: the
account (``account:<username>``) and the client address (``address:<ip>``; IPv6 by its /64,
which one host usually holds whole). Past a few free attempts each further one blocks its key
for an exponentially growing delay, capped. A blocked attempt is answered 429 with
``Retry-After`` at once — no password hashing — and is **not** counted, so hammering does not
extend a block. A successful login clears its account and address.

The address rule is the strict one, the account rule the lenient one: one attacker address is
slowed to about one guess per 5 minutes while the account, which the real admin shares, is
never blocked by it (the attacker's few counted guesses stay under the account's free
attempts); a guessing campaign from many addresses slows the account to one guess per minute
at worst. Kept in the database so every ingest process applies the same counts.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.dialect import upsert
from libs.common.db.engine import transaction
from libs.common.db.models import AdminLoginThrottle

MAX_KEY_VALUE_CHARS = 150  # key column is 160 wide, with the "account:"/"address:" prefix
FORGET_AFTER_S = 15 * 60  # a key left alone this long starts over
HOUSEKEEPING_BATCH = 100  # forgotten rows deleted per attempt: more than an attempt creates


@dataclass(frozen=True)
class Rule:
    free: int  # attempts before the first delay
    first_delay_s: float
    cap_s: float

    def delay_s(self, attempts: int) -> float:
        if attempts < self.free:
            return 0.0
        return float(min(self.cap_s, self.first_delay_s * 2.0 ** (attempts - self.free)))


# 5 free, then 1, 2, 4 … 256, 300 s: after an hour of trying, an address has had ~20 guesses.
ADDRESS = Rule(free=5, first_delay_s=1, cap_s=300)
# 10 free (a handful of typos from several desks), then 1, 2 … 32, 60 s.
ACCOUNT = Rule(free=10, first_delay_s=1, cap_s=60)


def address_key(host: str | None) -> str:
    try:
        ip = ipaddress.ip_address(host or "")
    except ValueError:
        return f"address:{(host or '?')[:MAX_KEY_VALUE_CHARS]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 host a.b.c.d
            return f"address:{ip.ipv4_mapped}"
        return f"address:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"address:{ip}"


def account_key(username: str) -> str:
    return f"account:{username[:MAX_KEY_VALUE_CHARS]}"


class LoginThrottle:
    def __init__(
        self,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions, self._clock = sessions, clock

    async def admit(self, username: str, host: str | None) -> int:
        """0: go ahead (the attempt is counted); else the seconds to wait (not counted)."""
        rules = {account_key(username): ACCOUNT, address_key(host): ADDRESS}
        now = self._clock()
        async with transaction(self._sessions()) as session:
            rows = [await _locked(session, key, now) for key in sorted(rules)]  # lock order
            wait = max(row.blocked_until - now for row in rows)
            if wait > 0:
                return max(1, math.ceil(wait))
            for row in rows:
                if now - row.last_at >= FORGET_AFTER_S:
                    row.attempts = 0
                row.attempts += 1
                row.last_at = now
                row.blocked_until = now + rules[row.key].delay_s(row.attempts)
            await _forget_quiet_keys(session, now)
        return 0

    async def succeeded(self, username: str, host: str | None) -> None:
        keys = [account_key(username), address_key(host)]
        async with transaction(self._sessions()) as session:
            await session.execute(
                delete(AdminLoginThrottle).where(AdminLoginThrottle.key.in_(keys))
            )


async def _locked(session: AsyncSession, key: str, now: float) -> AdminLoginThrottle:
    """The key's row, created if new, locked until commit (a no-op upsert takes the lock on
    PostgreSQL; SQLite serialises writers anyway)."""
    stmt = (
        upsert(session, AdminLoginThrottle)
        .values(key=key, attempts=0, blocked_until=0.0, last_at=now)
        .on_conflict_do_update(index_elements=["key"], set_={"key": AdminLoginThrottle.key})
        .returning(AdminLoginThrottle)
        .execution_options(populate_existing=True)
    )
    row: AdminLoginThrottle = (await session.scalars(stmt)).one()
    return row


async def _forget_quiet_keys(session: AsyncSession, now: float) -> None:
    """Rows nobody tried for FORGET_AFTER_S hold nothing; SKIP LOCKED: never wait on the rows
    another attempt holds (no deadlock with it). SQLite renders no FOR UPDATE and needs none:
    it serialises writers."""
    quiet = select(AdminLoginThrottle.key).where(AdminLoginThrottle.last_at < now - FORGET_AFTER_S)
    quiet = quiet.limit(HOUSEKEEPING_BATCH).with_for_update(skip_locked=True)
    await session.execute(delete(AdminLoginThrottle).where(AdminLoginThrottle.key.in_(quiet)))
