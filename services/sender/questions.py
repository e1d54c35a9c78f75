"""The mediator's question about a delivery, asked at send time (``permission.py``) and when a
digest is built (``digests/permission.py``): one builder, one way to ask, one denial text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from libs.common.clients.mediator_client import MediatorClient
from libs.common.schemas.permissions import PermissionAnswer, PermissionItem

T = TypeVar("T")


class Asker(Protocol):
    """Who asks (a claimed delivery, a digest item): the module and project of the event."""

    @property
    def source(self) -> str: ...
    @property
    def project_id(self) -> str | None: ...
    @property
    def user_id(self) -> str: ...


def question(d: Asker, object_type: str, object_id: str) -> PermissionItem:
    """May ``d``'s user read this object? pydantic's ``ValidationError`` when an identifier is
    longer than the contract allows (it cannot be asked)."""
    return PermissionItem(
        module=d.source,
        project_id=d.project_id,
        object_type=object_type,
        object_id=object_id,
        user_id=d.user_id,
    )


async def ask(
    mediator: MediatorClient, tenant: str, pairs: Sequence[tuple[T, PermissionItem]]
) -> list[tuple[T, PermissionItem, PermissionAnswer]]:
    """One mediator call for one tenant; identical questions are asked once (e-mail, Telegram
    and browser deliveries of one notification; a digest's items about one entity).
    ``MediatorUnavailable`` when it cannot be reached."""
    unique = list(dict.fromkeys(q for _, q in pairs))
    answers = dict(zip(unique, await mediator.check(unique, tenant), strict=True))
    return [(x, q, answers[q]) for x, q in pairs]


def denial(q: PermissionItem, when: str) -> str:
    """Why a delivery was denied, as recorded in ``deliveries.reason``."""
    return f"{q.user_id} may not read {q.module}/{q.object_type} {q.object_id} ({when})"
