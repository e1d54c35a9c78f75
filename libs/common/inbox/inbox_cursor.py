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
from typing import cast

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.dialect import upsert
from libs.common.db.models import Notification, UserSequence
from libs.common.db.tables import table_of

ALLOWED = "allowed"
CURSOR_PREFIX = "c1."  # versioned: a later encoding can coexist with cursors pages hold
MAX_SEQ = 2**63 - 1  # BIGINT
User = tuple[str, str]  # (tenant, user_id)


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
    concurrent callers never deadlock. A constant number of statements whatever the batch
    (the sender reveals a batch of 100 users at once: one round trip per user made e-mail
    sending four times slower)."""
    ids = sorted(set(notification_ids))
    if not ids:
        return []
    users = sorted(await _owners(session, ids))
    if users:
        last = await _lock_users(session, users)
        await _number(session, last, await _unnumbered(session, ids))
    rows = await session.execute(
        select(Notification.id, Notification.tenant, Notification.user_id, Notification.user_seq)
        .where(Notification.id.in_(ids), Notification.access == ALLOWED)
        .where(Notification.user_seq.is_not(None))
        .order_by(Notification.user_seq)
    )
    return [Revealed(int(i), str(t), str(u), int(cast(int, n))) for i, t, u, n in rows.all()]


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


async def _lock_users(session: AsyncSession, users: Sequence[User]) -> dict[User, int]:
    """Create or lock the users' rows, in the given (sorted) order, held until commit; returns
    their last values."""
    stmt = (
        upsert(session, UserSequence)
        .values([{"tenant": t, "user_id": u, "last_seq": 0} for t, u in users])
        .on_conflict_do_update(
            index_elements=["tenant", "user_id"],
            set_={"last_seq": UserSequence.last_seq},  # a no-op write: it takes the row lock
        )
        .returning(UserSequence.tenant, UserSequence.user_id, UserSequence.last_seq)
    )
    rows = (await session.execute(stmt)).all()
    return {(str(t), str(u)): int(n) for t, u, n in rows}


async def _unnumbered(session: AsyncSession, ids: Sequence[int]) -> list[tuple[int, User]]:
    """Re-read under the users' locks: another revealer may have numbered some meanwhile.
    The rows are locked too (FOR UPDATE; SQLite has one writer anyway): a denial committed
    after this read would otherwise be overwritten by ``allowed`` below, and one committed
    while we wait for its row is seen here, so the item is skipped without a gap."""
    rows = await session.execute(
        select(Notification.id, Notification.tenant, Notification.user_id)
        .where(Notification.id.in_(ids), Notification.user_seq.is_(None))
        .where((Notification.access.is_(None)) | (Notification.access == ALLOWED))
        .order_by(Notification.id)
        .with_for_update()
    )
    return [(int(i), (str(t), str(u))) for i, t, u in rows.all()]


async def _number(
    session: AsyncSession, last: dict[User, int], fresh: list[tuple[int, User]]
) -> None:
    """Each user's fresh items get the next values, in id order (executemany)."""
    numbered: list[dict[str, object]] = []
    for note_id, user in fresh:
        if user not in last:  # not locked by us: never numbered without the lock
            continue
        last[user] += 1
        numbered.append({"n_id": note_id, "n_seq": last[user]})
    if not numbered:
        return
    notes = table_of(Notification)
    await session.execute(
        update(notes)
        .where(notes.c.id == bindparam("n_id"))
        .values(user_seq=bindparam("n_seq"), access=ALLOWED),
        numbered,
    )
    seqs = table_of(UserSequence)
    touched = {user for _, user in fresh if user in last}
    await session.execute(
        update(seqs)
        .where(seqs.c.tenant == bindparam("s_tenant"), seqs.c.user_id == bindparam("s_user"))
        .values(last_seq=bindparam("s_last")),
        [{"s_tenant": t, "s_user": u, "s_last": last[(t, u)]} for t, u in sorted(touched)],
    )
