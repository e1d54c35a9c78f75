"""What the inbox is about to show is re-checked with the mediator, one batch per page.

An item is in the inbox only once its first check allowed it (libs/common/inbox/access.py); rights
can be revoked afterwards, so every page (and every item a state change returns) is asked
again — with the mediator's cache warm that is one cheap round trip. Per item:

* allowed → shown;
* denied → hidden, and ``access = 'denied'`` recorded at once (autocommit), so counts agree
  with what the list shows and the item never comes back;
* undetermined (the module's backend failed) → hidden from this answer only, nothing recorded;
* mediator unreachable → ``MediatorUnavailable``: 503 with Retry-After, nothing shown blind.

A page short of hidden items is filled from older ones, at most ``MAX_ROUNDS`` queries; past
that it is returned shorter (even empty) with a ``next_cursor`` to go on from.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs.common.clients.mediator_client import MediatorClient
from libs.common.inbox.access import Verdict, deny, judge, question
from libs.common.schemas.inbox import InboxItem
from libs.common.schemas.permissions import PermissionItem
from libs.common.security.auth import Principal
from services.ingest.user_api import queries as q

MAX_ROUNDS = 3  # a page costs at most this many queries and mediator calls


@dataclass(frozen=True)
class Page:
    items: list[InboxItem]
    next_cursor: str | None
    denied: bool  # a denial was recorded: the user's counters changed


@dataclass(frozen=True)
class Screened:
    shown: list[InboxItem]
    denied: bool


async def screen(
    db: q.Db, mediator: MediatorClient, user: Principal, items: list[InboxItem]
) -> Screened:
    """One mediator batch for ``items``; denials recorded on ``db`` (flushed or autocommitted)."""
    questions: dict[int, PermissionItem | None] = {}
    verdicts: dict[int, Verdict] = {}
    for i in items:
        try:
            questions[i.id] = question(
                i.source, i.project_id, i.entity_type, i.entity_id, user.user_id
            )
        except ValueError:
            verdicts[i.id] = Verdict.DENIED
    verdicts.update(await judge(mediator, user.tenant, questions) if questions else {})
    denied = [i for i, v in verdicts.items() if v is Verdict.DENIED]
    changed = bool(await deny(db, denied)) if denied else False
    shown = [i for i in items if verdicts[i.id] is Verdict.ALLOWED]
    return Screened(shown, changed)


async def visible_page(
    db: q.Db,
    mediator: MediatorClient,
    user: Principal,
    f: q.InboxFilter,
    limit: int,
    cursor: str | None,
) -> Page:
    below = q.decode_cursor(cursor) if cursor is not None else None
    shown: list[InboxItem] = []
    denied = False
    for _ in range(MAX_ROUNDS):
        items, more = await q.fetch_page(db, user, f, limit - len(shown), below)
        screened = await screen(db, mediator, user, items) if items else Screened([], False)
        shown += screened.shown
        denied |= screened.denied
        if not more:
            return Page(shown, None, denied)
        below = items[-1].id
        if len(shown) == limit:
            break
    return Page(shown, q.encode_cursor(below) if below is not None else None, denied)


async def visible_item(
    db: q.Db, mediator: MediatorClient, user: Principal, item_id: int
) -> Screened:
    """The item re-checked; ``shown`` is empty when the user may no longer read it."""
    return await screen(db, mediator, user, [await q.get_item(db, user, item_id)])
