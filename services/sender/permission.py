"""Permission at send time (DESIGN §6): one mediator call per claimed batch and tenant.

* allowed (``read``) → sent;
* denied without an error → DENIED with the reason (rights are checked when sending, so a
  user who lost access since the event never sees it);
* denied *with* an error (the module's backend failed: the mediator never allows on error)
  → retried with backoff like a transient send failure, FAILED when attempts run out;
* mediator unreachable → every delivery of that tenant deferred a few seconds, attempts given
  back: nothing is ever sent blind, and an outage never uses up attempts.

A digest's own delivery (no notification) is not checked here: its items were each checked
when the digest was built, and the digest is one message about many objects.

The answer also decides the notification's inbox visibility (``verdicts``, recorded by
``visibility.record`` before anything is sent): its first check makes it visible or not, a
later denial hides it (libs/common/inbox/access.py). Undetermined answers decide nothing.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

from pydantic import ValidationError

from libs.common.clients.mediator_client import MediatorClient, MediatorUnavailable
from libs.common.inbox.access import DENIED, Verdict
from libs.common.schemas.permissions import PermissionAnswer, PermissionItem
from services.sender.claim import Claimed
from services.sender.outcome import Outcome, deferred, denied, failed, retry
from services.sender.questions import ask, denial, question

MEDIATOR_RETRY_S = 5.0  # an unreachable mediator is retried soon; jittered up to 2x


@dataclass
class Screened:
    allowed: list[Claimed] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    verdicts: dict[int, Verdict] = field(default_factory=dict)  # notification id → news

    def note(self, c: Claimed, verdict: Verdict) -> None:
        """Keep what changes the notification's visibility: a first answer, or a denial."""
        if c.notification_id is None or c.access == DENIED:
            return
        if verdict is Verdict.DENIED:  # a denial wins over anything else heard about it
            self.verdicts[c.notification_id] = verdict
        elif c.access is None:
            self.verdicts.setdefault(c.notification_id, verdict)


def permission_item(c: Claimed) -> PermissionItem | None:
    if c.notification_id is None or c.entity_type is None or c.entity_id is None:
        return None
    return question(c, c.entity_type, c.entity_id)


async def screen(mediator: MediatorClient, batch: list[Claimed], max_attempts: int) -> Screened:
    result = Screened()
    by_tenant: dict[str, list[tuple[Claimed, PermissionItem]]] = defaultdict(list)
    for c in batch:
        try:
            item = permission_item(c)
        except ValidationError as exc:  # e.g. an id longer than the contract allows
            result.outcomes.append(failed(c, f"cannot ask the mediator about it: {exc}"))
            result.note(c, Verdict.DENIED)  # it can never be checked, so never shown
            continue
        if item is None:
            result.allowed.append(c)
            result.note(c, Verdict.ALLOWED)
        else:
            by_tenant[c.tenant].append((c, item))
    for tenant, pairs in by_tenant.items():
        await _screen_tenant(mediator, tenant, pairs, max_attempts, result)
    return result


async def _screen_tenant(
    mediator: MediatorClient,
    tenant: str,
    pairs: list[tuple[Claimed, PermissionItem]],
    max_attempts: int,
    result: Screened,
) -> None:
    try:
        answered = await ask(mediator, tenant, pairs)
    except MediatorUnavailable as exc:
        delay = MEDIATOR_RETRY_S * (1 + random.random())
        why = f"permission check unavailable: {exc}"
        result.outcomes.extend(deferred(c, delay, why) for c, _ in pairs)
        return
    for c, item, answer in answered:
        _judge(c, item, answer, max_attempts, result)


def _judge(
    c: Claimed, item: PermissionItem, answer: PermissionAnswer, max_attempts: int, out: Screened
) -> None:
    if answer.read:
        out.allowed.append(c)
        out.note(c, Verdict.ALLOWED)
    elif answer.error:
        out.outcomes.append(retry(c, f"permission undetermined: {answer.error}", max_attempts))
    else:
        out.outcomes.append(denied(c, denial(item, "checked at send time")))
        out.note(c, Verdict.DENIED)
