"""Rights are checked when the digest is built — its send time for every item in it.

One mediator call per batch and tenant (identical questions asked once). Per item:

* allowed → in the digest;
* denied → DENIED with the reason, never shown (the user lost access while it waited);
* undetermined (the module's backend failed; the mediator never allows on error) → left
  waiting: the next digest asks again. Never sent blind, never dropped.

An unreachable mediator raises ``MediatorUnavailable``: the whole batch rolls back and is
retried shortly (the scheduler postpones it), so an outage delays digests, it never empties them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.clients.mediator_client import MediatorClient
from libs.common.db.models import Delivery, DeliveryStatus
from libs.common.db.tables import table_of
from libs.common.schemas.permissions import PermissionAnswer, PermissionItem
from services.sender.digests.collect import Item
from services.sender.questions import ask, denial, question

REASON_MAX_CHARS = 256  # deliveries.reason is VARCHAR(256)
DELIVERIES = table_of(Delivery)


@dataclass
class Screening:
    denied: dict[int, str] = field(default_factory=dict)  # delivery id → why
    undetermined: set[int] = field(default_factory=set)

    def allowed(self, items: Sequence[Item]) -> list[Item]:
        return [
            i
            for i in items
            if i.delivery_id not in self.denied and i.delivery_id not in self.undetermined
        ]


async def screen(mediator: MediatorClient, items: Sequence[Item]) -> Screening:
    out = Screening()
    # repeats about one entity ask once: 20 items over 8 entities → 8 questions
    questions: dict[tuple[str, str, str | None, str, str, str], PermissionItem] = {}
    by_tenant: dict[str, list[tuple[Item, PermissionItem]]] = defaultdict(list)
    for i in items:
        if not i.entity_type:
            continue  # not about an object (no notification behind it): nothing to check
        key = (i.tenant, i.source, i.project_id, i.entity_type, i.entity_id, i.user_id)
        if key not in questions:
            try:
                questions[key] = question(i, i.entity_type, i.entity_id)
            except ValidationError:
                out.denied[i.delivery_id] = "cannot be checked: identifiers too long to ask"
                continue
        by_tenant[i.tenant].append((i, questions[key]))
    for tenant, pairs in by_tenant.items():
        for i, q, answer in await ask(mediator, tenant, pairs):
            _judge(i, q, answer, out)
    return out


def _judge(i: Item, q: PermissionItem, answer: PermissionAnswer, out: Screening) -> None:
    if answer.error:
        out.undetermined.add(i.delivery_id)
    elif not answer.read:
        out.denied[i.delivery_id] = denial(q, "digest build")


async def mark_denied(session: AsyncSession, denied: dict[int, str]) -> None:
    if not denied:
        return
    await session.execute(
        update(DELIVERIES)
        .where(
            DELIVERIES.c.id == bindparam("d_id"),
            DELIVERIES.c.status == DeliveryStatus.DIGEST.value,
        )
        .values(status=DeliveryStatus.DENIED.value, reason=bindparam("d_why")),
        [{"d_id": k, "d_why": why[:REASON_MAX_CHARS]} for k, why in denied.items()],
    )
