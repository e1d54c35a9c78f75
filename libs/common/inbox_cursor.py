"""The per-user inbox cursor (DESIGN §8): which notifications a browser has seen, exactly.

A notification gets its ``user_seq`` at the moment it becomes **visible** (``access`` set to
``allowed``), in the transaction that makes it visible, under the user's ``user_sequences``
row lock held until commit. Hence, for one user:

* values commit in order: a value is handed out only after the previous holder committed, so
  "everything with user_seq > N" read now can never miss a row that commits later with a
  smaller value;
* values are contiguous among revealed items (only a reveal consumes one), so a gateway that
  sees N + 2 after N knows N + 1 exists and is already committed, and reads it — pushes that
  two senders publish out of order are put back in order;
* a notification revealed late (its permission check took longer) enters the stream at the
  end instead of behind a cursor a client already holds.

Why not at insert time in the processor: visibility is decided later, by the sender, in an
order that differs from the processor's when two senders run; an item numbered 5 revealed
after item 6 was delivered would be behind every cursor that passed 6 and never be replayed.

Whoever sets ``access = 'allowed'`` calls :func:`reveal` (idempotent); an item made visible
without it gets its value from the next ``reveal`` of it (e.g. its browser delivery).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Notification, UserSequence

ALLOWED = "allowed"
CURSOR_PREFIX = "c1."  # versioned: a later encoding can coexist with cursors pages hold
MAX_SEQ = 2**63 - 1  # BIGINT


class BadCursor(ValueError):
    pass


def encode(seq: int) -> str:
    """The opaque cursor a client stores; clients must not compute with it."""
    return f"{CURSOR_PREFIX}{seq}"


def decode(cursor: str) -> int:
    if not cursor.startswith(CURSOR_PREFIX):
        raise BadCursor("not a cursor this gateway issued")
    digits = cursor[len(CURSOR_PREFIX) :]
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        raise BadCursor("not a cursor this gateway issued")
    seq = int(digits)
    if seq > MAX_SEQ:
        raise BadCursor("cursor out of range")
    return seq


@dataclass(frozen=True)
class Revealed:
    notification_id: int
    tenant: str
    user_id: str
    seq: int


async def reveal(session: AsyncSession, notification_ids: Iterable[int]) -> list[Revealed]:
    """Make these notifications visible and give each its cursor value; those already
    numbered keep theirs, those denied stay hidden. In the caller's transaction; returns every
    visible one of them in cursor order. Users are locked sorted by (tenant, user_id) so two
    concurrent callers never deadlock."""
    ids = sorted(set(notification_ids))
    if not ids:
        return []
    users = sorted(await _owners(session, ids))
    for tenant, user_id in users:
        last = await _lock_user(session, tenant, user_id)
        fresh = await _unnumbered(session, ids, tenant, user_id)
        for offset, note_id in enumerate(fresh, start=1):
            await session.execute(
                update(Notification)
                .where(Notification.id == note_id)
                .values(user_seq=last + offset, access=ALLOWED)
            )
        if fresh:
            await session.execute(
                update(UserSequence)
                .where(UserSequence.tenant == tenant, UserSequence.user_id == user_id)
                .values(last_seq=last + len(fresh))
            )
    rows = await session.execute(
        select(Notification.id, Notification.tenant, Notification.user_id, Notification.user_seq)
        .where(Notification.id.in_(ids), Notification.access == ALLOWED)
        .where(Notification.user_seq.is_not(None))
        .order_by(Notification.user_seq)
    )
    return [Revealed(int(i), str(t), str(u), int(s or 0)) for i, t, u, s in rows.all()]


async def current_seq(session: AsyncSession, tenant: str, user_id: str) -> int:
    """The user's latest committed cursor value (0: nothing revealed yet)."""
    value = await session.scalar(
        select(UserSequence.last_seq).where(
            UserSequence.tenant == tenant, UserSequence.user_id == user_id
        )
    )
    return int(value or 0)


async def _owners(session: AsyncSession, ids: Sequence[int]) -> set[tuple[str, str]]:
    rows = await session.execute(
        select(Notification.tenant, Notification.user_id)
        .where(Notification.id.in_(ids), Notification.user_seq.is_(None))
        .distinct()
    )
    return {(str(t), str(u)) for t, u in rows.all()}


async def _lock_user(session: AsyncSession, tenant: str, user_id: str) -> int:
    """Create or lock the user's row (held until commit); returns its last value."""
    dialect = session.get_bind().dialect.name
    ins = (postgresql if dialect == "postgresql" else sqlite).insert(UserSequence)
    stmt = (
        ins.values(tenant=tenant, user_id=user_id, last_seq=0)
        .on_conflict_do_update(
            index_elements=["tenant", "user_id"],
            set_={"last_seq": UserSequence.last_seq},  # a no-op write: it takes the row lock
        )
        .returning(UserSequence.last_seq)
    )
    return int((await session.execute(stmt)).scalar_one())


async def _unnumbered(
    session: AsyncSession, ids: Sequence[int], tenant: str, user_id: str
) -> list[int]:
    """Re-read under the user's lock: another revealer may have numbered some meanwhile."""
    rows = await session.scalars(
        select(Notification.id)
        .where(
            Notification.id.in_(ids),
            Notification.tenant == tenant,
            Notification.user_id == user_id,
            Notification.user_seq.is_(None),
        )
        .where((Notification.access.is_(None)) | (Notification.access == ALLOWED))
        .order_by(Notification.id)
    )
    return [int(i) for i in rows.all()]
