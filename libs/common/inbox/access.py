"""The inbox's visibility contract (DESIGN §13; docs/permissions.md, "Who sees an inbox item").

``notifications.access`` is NULL (not checked yet), ``allowed`` or ``denied``. The inbox —
REST list, counts and state changes, websocket resume and live pushes — shows only
``allowed`` items (:func:`visible`). A notification is checked once before it becomes
visible: by the send-time check of one of its deliveries, or by the sender's visibility
checker when nothing is sent at once. A later denial (a page re-check, a later delivery) hides
it for good: ``denied`` is final, ``allowed`` is set only on unchecked rows and only through
:func:`libs.common.inbox.inbox_cursor.reveal`, which numbers the item for the websocket cursor.

Undetermined answers (the module's backend failed) decide nothing: the row keeps its state.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Protocol, TypeVar

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Update, literal_column, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from libs.common.db.models import Notification
from libs.common.schemas.permissions import PermissionItem

if TYPE_CHECKING:  # the processor reads ALLOWED/DENIED here and asks no mediator (no httpx)
    from libs.common.clients.mediator_client import MediatorClient

ALLOWED, DENIED = "allowed", "denied"

K = TypeVar("K", bound=Hashable)
User = tuple[str, str]  # (tenant, user_id)


class Verdict(Enum):
    ALLOWED = ALLOWED
    DENIED = DENIED
    UNDETERMINED = "undetermined"  # the module could not answer: ask again later


def visible() -> ColumnElement[bool]:
    """The one predicate every inbox surface filters with. The value is written into the SQL,
    not bound: a prepared statement's generic plan cannot match ``access = $1`` against the
    partial index ``ix_notifications_unread`` (seen: counts 800 ms instead of 1 ms)."""
    return Notification.access == literal_column(f"'{ALLOWED}'")


def question(
    module: str, project_id: str | None, object_type: str, object_id: str, user_id: str
) -> PermissionItem | None:
    """What to ask the mediator about a user and an object; None when the item is about no
    object (nothing to check: allowed). Raises ``ValueError`` for identifiers the mediator's
    contract cannot carry: such an item can never be checked, so it is denied."""
    if not object_type or not object_id:
        return None
    try:
        return PermissionItem(
            module=module,
            project_id=project_id,
            object_type=object_type,
            object_id=object_id,
            user_id=user_id,
        )
    except ValidationError as exc:
        raise ValueError(f"cannot be checked: {exc.error_count()} identifier(s) too long") from exc


class Checkable(Protocol):
    """A notification's columns that name its user and its object (a row or a model)."""

    id: int
    tenant: str
    user_id: str
    source: str
    project_id: str | None
    entity_type: str
    entity_id: str


def question_of(note: Checkable) -> PermissionItem | None:
    return question(note.source, note.project_id, note.entity_type, note.entity_id, note.user_id)


async def judge(
    mediator: MediatorClient, tenant: str, items: Mapping[K, PermissionItem | None]
) -> dict[K, Verdict]:
    """One mediator batch for a tenant's items (identical questions asked once). Raises
    ``MediatorUnavailable`` when the mediator cannot answer at all: never act as if allowed."""
    verdicts = {key: Verdict.ALLOWED for key, item in items.items() if item is None}
    asked = {key: item for key, item in items.items() if item is not None}
    unique = list(dict.fromkeys(asked.values()))
    answers = dict(zip(unique, await mediator.check(unique, tenant), strict=True))
    for key, item in asked.items():
        answer = answers[item]
        if answer.read:
            verdicts[key] = Verdict.ALLOWED
        else:
            verdicts[key] = Verdict.UNDETERMINED if answer.error else Verdict.DENIED
    return verdicts


async def judge_rows(mediator: MediatorClient, rows: Sequence[Checkable]) -> dict[int, Verdict]:
    """Verdicts by notification id, one mediator batch per tenant."""
    by_tenant: dict[str, dict[int, PermissionItem | None]] = defaultdict(dict)
    verdicts: dict[int, Verdict] = {}
    for row in rows:
        try:
            by_tenant[row.tenant][row.id] = question_of(row)
        except ValueError:
            verdicts[row.id] = Verdict.DENIED
    for tenant, items in by_tenant.items():
        verdicts.update(await judge(mediator, tenant, items))
    return verdicts


async def deny(session: AsyncSession | AsyncConnection, ids: Iterable[int]) -> set[User]:
    """Record denials (final). Returns the users who lost a visible item (their counters may
    have changed); an unchecked item was hidden already. Flush only."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    hidden = await session.execute(
        _deny(wanted, Notification.access == ALLOWED).returning(
            Notification.tenant, Notification.user_id
        )
    )
    users = {(str(t), str(u)) for t, u in hidden.all()}
    await session.execute(_deny(wanted, Notification.access.is_(None)))
    return users


def _deny(ids: list[int], was: ColumnElement[bool]) -> Update:
    return (
        update(Notification)
        .where(Notification.id.in_(ids), was)
        .values(access=DENIED)
        .execution_options(synchronize_session=False)
    )


def ids_with(verdicts: Mapping[int, Verdict], verdict: Verdict) -> list[int]:
    return sorted(i for i, v in verdicts.items() if v is verdict)
