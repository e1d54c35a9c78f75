"""The reduced chaos run (DESIGN §13): 1,000 events through the five services as processes,
while services are SIGKILLed, RabbitMQ and PostgreSQL restart, a processor is killed while it
writes a 5,000-recipient event and poison messages arrive between the chunks. Nothing may be
lost or fail, every delivery ends in the status computed up front (subscriptions, digest-mode
users, de-duplication), every poison message is a rejected row, and an e-mail may go twice
only after a fault that can cause it, with the same Message-ID. Meanwhile 6 users × 2 browser
tabs (real websocket clients) drop and resume by cursor: each tab gets every notification of
its user once, in cursor order, through the gateway's SIGKILL too.

The full run (10,000 events) is `make chaos`; docs/chaos.md explains both.
"""

from __future__ import annotations

import pytest

from tests.acceptance.chaos.faults import KILL, LARGE_KILL, POSTGRESQL, RABBITMQ
from tests.acceptance.chaos.scenario import REDUCED, run_chaos


# ~2-3 minutes on a shared 2-core machine; the bound leaves room for a failing run to reach
# its report (the settle wait alone may take REDUCED.settle_timeout_s)
@pytest.mark.timeout(600)
def test_reduced_chaos_run_loses_nothing() -> None:
    result = run_chaos(REDUCED)
    kinds = {r.fault.kind for r in result.faults}
    assert {KILL, RABBITMQ, POSTGRESQL, LARGE_KILL} <= kinds  # the storm really happened
    assert result.kills.get("sender", 0) >= 1
    assert result.kills.get("websocket", 0) >= 1 and result.kills.get("processor", 0) >= 1
    assert any(r.landed_on for r in result.faults if r.fault.kind == LARGE_KILL)
    assert result.load.published == REDUCED.events
    assert result.load.poison == REDUCED.poison
    f = result.findings
    assert not f.events_lost and not f.events_failed and not f.events_unprocessed
    assert not f.notifications_lost and not f.notifications_unexpected
    assert not f.deliveries_lost and not f.deliveries_wrong and not f.deliveries_unexpected
    assert not f.skipped_unexplained and not f.large_incomplete
    assert {"SENT", "DIGEST", "SKIPPED"} <= set(result.expected_rows)  # every rule was walked
    assert sum(len(rows) for rows in result.seen.deliveries.values()) == sum(
        result.expected_rows.values()
    )
    assert len(f.poison_rows) == REDUCED.poison
    assert not f.poison_unrejected and not f.poison_accepted and not f.poison_no_reason
    assert not f.mails_missing and not f.mails_foreign
    assert not f.duplicates_differing and not f.duplicates_unexplained
    assert not f.duplicates_unclaimed
    tabs = result.browsers
    assert len(tabs) == 12 and all(c.expected > 0 for c in tabs)  # every tab had work
    assert all(c.resumes >= 5 for c in tabs)  # and dropped and resumed along the way
    assert [c.tab for c in tabs if c.lost or c.duplicated or c.out_of_order or c.unexpected] == []
    assert result.problems == []
