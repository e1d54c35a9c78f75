"""Escalation chains (DESIGN §6): what an event type says should happen to a critical
notification nobody reads. ``[{"channel": "browser", "after_minutes": 0}, {"channel": "email",
"after_minutes": 10}, …]`` reads "browser → email after 10 min → …": at each step's delay after
the notification was created, if it is still unread and not archived, it is sent on that
step's channel (services/processor/escalation_firing.py).

One rule set for the admin, the catalog and the docs: channels from the registry (with a
provider when ``available`` is given), each at most once, delays in whole minutes that grow
strictly from step to step.

A chain stops as soon as the notification is read or archived: the inbox's state change stops
the planned steps in its own transaction (``stop_chains``), so reading and then marking unread
again does not restart it, and the story page shows the stop at once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Escalation, utcnow
from libs.common.delivery.channels import provider_refusal, registry

MAX_STEPS = 8
MAX_MINUTES = 7 * 24 * 60  # a week: a chain longer than that is not an escalation
# read-all may cover tens of thousands of items; a statement takes at most 32,767 parameters
STOP_CHUNK = 10_000


class ChainError(ValueError):
    """A chain the pipeline cannot follow; the message says which step and why."""


@dataclass(frozen=True)
class Step:
    channel: str
    after_minutes: int

    def as_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "after_minutes": self.after_minutes}


def _step(i: int, raw: Any) -> Step:
    where = f"escalation step {i}"
    if not isinstance(raw, dict) or set(raw) - {"channel", "after_minutes"}:
        raise ChainError(f'{where}: an object {{"channel": "email", "after_minutes": 10}}')
    channel, minutes = raw.get("channel"), raw.get("after_minutes", 0)
    if not isinstance(channel, str) or not channel:
        raise ChainError(f"{where}: channel is missing")
    if channel not in registry():
        raise ChainError(f"{where}: unknown channel {channel}; known: {list(registry().names)}")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= MAX_MINUTES:
        raise ChainError(f"{where}: after_minutes must be a whole number 0…{MAX_MINUTES}")
    return Step(channel, minutes)


def parse_chain(value: Any, available: Collection[str] | None = None) -> tuple[Step, ...]:
    """The chain ``value`` names, validated; with ``available``, every channel must have a
    provider. Raises ChainError with a message fit for the admin."""
    if value is None or value == []:
        return ()
    if not isinstance(value, list):
        raise ChainError(
            'escalation: a JSON list, e.g. [{"channel": "browser", "after_minutes": 0}, '
            '{"channel": "email", "after_minutes": 10}]'
        )
    if len(value) > MAX_STEPS:
        raise ChainError(f"escalation: at most {MAX_STEPS} steps")
    steps = tuple(_step(i, raw) for i, raw in enumerate(value, start=1))
    seen: set[str] = set()
    for i, step in enumerate(steps, start=1):
        if step.channel in seen:
            raise ChainError(f"escalation step {i}: {step.channel} appears twice in the chain")
        seen.add(step.channel)
        if i > 1 and step.after_minutes <= steps[i - 2].after_minutes:
            raise ChainError(
                f"escalation step {i} ({step.channel} after {step.after_minutes} min) must "
                f"come later than the step before ({steps[i - 2].after_minutes} min)"
            )
        refused = available is not None and provider_refusal(step.channel, available)
        if refused:
            raise ChainError(f"escalation step {i}: {refused} (configure it first: docs/sender.md)")
    return steps


def stored_chain(value: Any) -> tuple[Step, ...]:
    """A stored chain as the pipeline follows it: a row that no longer validates (a channel
    plugin removed since) escalates nowhere rather than failing every event of its type."""
    try:
        return parse_chain(value)
    except ChainError:
        return ()


def describe(steps: Sequence[Step]) -> str:
    """``browser → email after 10 min → telegram after 30 min``."""
    return " → ".join(
        s.channel if s.after_minutes == 0 else f"{s.channel} after {s.after_minutes} min"
        for s in steps
    )


async def stop_chains(session: AsyncSession, notification_ids: Sequence[int], why: str) -> None:
    """Stop every step still planned for these notifications (flush only: the caller's
    transaction, the one that marked them read or archived)."""
    now = utcnow()
    for start in range(0, len(notification_ids), STOP_CHUNK):
        chunk = notification_ids[start : start + STOP_CHUNK]
        await session.execute(
            update(Escalation)
            .where(Escalation.notification_id.in_(chunk), Escalation.status == "planned")
            .values(status="stopped", reason=why, updated_at=now)
            .execution_options(synchronize_session=False)
        )
