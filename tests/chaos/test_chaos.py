"""The reduced chaos run (DESIGN §13): 1,000 events through the five services as processes,
while services are SIGKILLed and RabbitMQ and PostgreSQL restart. Nothing may be lost, and an
e-mail may go twice only after a fault that can cause it, with the same Message-ID.

The full run (10,000 events) is `make chaos`; docs/chaos.md explains both.
"""

from __future__ import annotations

from tests.chaos.faults import KILL, POSTGRESQL, RABBITMQ
from tests.chaos.scenario import REDUCED, run_chaos


def test_reduced_chaos_run_loses_nothing() -> None:
    result = run_chaos(REDUCED)
    kinds = {r.fault.kind for r in result.faults}
    assert {KILL, RABBITMQ, POSTGRESQL} <= kinds  # the storm really happened
    assert result.kills.get("sender", 0) >= 1
    assert result.load.published == REDUCED.events
    f = result.findings
    assert not f.events_lost and not f.events_unprocessed
    assert not f.deliveries_lost and not f.deliveries_not_sent and not f.deliveries_unexpected
    assert len(result.seen.deliveries) == REDUCED.events * 4
    assert not f.mails_missing and not f.mails_foreign
    assert not f.duplicates_differing and not f.duplicates_unexplained
    assert not f.duplicates_unclaimed
    assert result.problems == []
