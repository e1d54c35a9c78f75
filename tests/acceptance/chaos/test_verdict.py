"""The chaos verdict's own logic (pure): the outcome computed up front follows DESIGN §5's
claim and de-duplication rules, and ``examine`` names every broken promise it is shown."""

from __future__ import annotations

import random
from collections import Counter

from tests.acceptance.chaos.browser_verdict import browser_problems, count_tab
from tests.acceptance.chaos.browsers import Tab
from tests.acceptance.chaos.expected import expected_deliveries, expected_notifications
from tests.acceptance.chaos.poison import KINDS, plan_poison
from tests.acceptance.chaos.population import COMMENTED, UPDATED, PlannedEvent, plan_large
from tests.acceptance.chaos.verdict import examine, message_id, problems
from tests.acceptance.chaos.verify import Observed, Row

# u-000 is a direct recipient and matches both of their filters; u-007 (digest mode), u-013
# and u-026 are subscribers only
BUSY = PlannedEvent("e-1", "T-0", ("u-000", "u-001"), COMMENTED, {"status": "open", "severity": 5})


def test_expected_outcome_follows_the_claim_rules() -> None:
    assert expected_deliveries([BUSY]) == {
        ("e-1", "u-000", "email"): ("SENT", "SKIPPED"),  # direct, then filter 0 asks again
        ("e-1", "u-000", "browser"): ("SENT", "SKIPPED", "SKIPPED"),  # and filter 1 too
        ("e-1", "u-001", "email"): ("SENT",),
        ("e-1", "u-001", "browser"): ("SENT",),
        ("e-1", "u-007", "email"): ("DIGEST",),  # digest mode, digestible type
        ("e-1", "u-007", "browser"): ("SENT",),
        ("e-1", "u-013", "email"): ("SENT",),  # the filter's own channel only
        ("e-1", "u-026", "browser"): ("SENT",),
    }
    calm = PlannedEvent("e-2", "T-7", ("u-007", "u-008"), UPDATED, {"status": "closed"})
    assert expected_deliveries([calm])[("e-2", "u-007", "email")] == ("SENT",)  # not digestible
    assert expected_notifications([BUSY, calm]) == {
        ("e-1", u) for u in ("u-000", "u-001", "u-007", "u-013", "u-026")
    } | {("e-2", "u-007"), ("e-2", "u-008")}


def _seen_as_expected(events: list[PlannedEvent]) -> Observed:
    """Every row as computed (SKIPPED ones with a reason), every SENT e-mail in the sink."""
    ids = iter(range(100, 10**6))
    rows = {
        key: [Row(status, next(ids), 1, "duplicate: asked twice") for status in statuses]
        for key, statuses in expected_deliveries(events).items()
    }
    mails = [
        {"message_id": message_id(r.id), "to": [key[1]], "subject": "s", "at": 1.0}
        for key, found in rows.items()
        for r in found
        if key[2] == "email" and r.status == "SENT"
    ]
    return Observed(
        events={e.id: "processed" for e in events},
        notifications=Counter(expected_notifications(events)),
        deliveries=rows,
        rejected=[(p.body(), "not_json: NaN") for p in plan_poison(len(KINDS), 1)],
        poison_events={},
        mails=mails,
        settled_after_s=1.0,
        settled=True,
    )


def test_examine_passes_the_computed_outcome_and_names_each_broken_promise() -> None:
    large = plan_large(1, 1)
    events, markers = [BUSY, *large], [p.marker for p in plan_poison(len(KINDS), 1)]
    ids, big = [e.id for e in events], [large[0].id]
    expected, notes = expected_deliveries(events), expected_notifications(events)
    clean = examine(ids, big, expected, notes, markers, _seen_as_expected(events), [])
    assert problems(clean, 1) == []

    seen = _seen_as_expected(events)
    seen.events[big[0]] = "failed"
    del seen.notifications[(big[0], "b-0042")]
    seen.deliveries.update(_browser_rows_with_faults())
    del seen.deliveries[("e-1", "u-001", "browser")]
    seen.rejected = seen.rejected[1:]
    f = examine(ids, big, expected, notes, markers, seen, [])
    assert f.events_failed == [big[0]] and f.notifications_lost == [(big[0], "b-0042")]
    assert f.large_incomplete == {big[0]: "failed, 4999 notifications, {'DIGEST': 5000}"}
    assert f.deliveries_lost == {("e-1", "u-001", "browser"): 1}
    assert f.deliveries_wrong == {("e-1", "u-007", "browser"): ("FAILED",)}
    assert f.deliveries_unexpected == {("e-1", "u-026", "browser"): 1}
    assert f.skipped_unexplained == [("e-1", "u-000", "browser")]
    assert f.poison_unrejected == [markers[0]]
    assert len(problems(f, 1)) == 9


def _browser_rows_with_faults() -> dict[tuple[str, str, str], list[Row]]:
    """e-1's browser rows: u-007's failed, u-026's twice, one of u-000's SKIPPED without why."""
    return {
        ("e-1", "u-000", "browser"): [Row("SENT", 1, 1, ""), Row("SKIPPED", 2, 0, "dup"),
                                      Row("SKIPPED", 3, 0, " ")],
        ("e-1", "u-007", "browser"): [Row("FAILED", 4, 5, "mediator")],
        ("e-1", "u-026", "browser"): [Row("SENT", 5, 1, ""), Row("SENT", 6, 1, "")],
    }  # fmt: skip


def _tab(*cursors: int, welcome: int = 2) -> Tab:
    tab = Tab("u-000", 0, random.Random(1))
    tab.take({"type": "welcome", "cursor": f"c1.{welcome}"})
    for seq in cursors:
        tab.take({"type": "notification", "cursor": f"c1.{seq}", "item": {"id": 100 + seq}})
    return tab


def test_browser_verdict_counts_lost_duplicated_and_out_of_order_per_tab() -> None:
    inbox = {100 + seq: seq for seq in range(1, 8)}  # visible cursor values 1..7
    clean = count_tab(_tab(3, 4, 5, 6, 7), inbox)  # 1 and 2 came before its first welcome
    assert (clean.expected, clean.lost, clean.duplicated, clean.out_of_order) == (5, [], {}, [])
    assert browser_problems([clean]) == []

    reloaded = _tab(3, 6, 7)
    reloaded.reloaded_ids = {104, 105}  # 4 and 5 shown by a REST reload: not lost
    assert count_tab(reloaded, inbox).lost == [] and count_tab(reloaded, inbox).reloaded == 2

    broken = count_tab(_tab(3, 5, 4, 5, 7, 9), inbox)
    assert broken.lost == [6] and broken.duplicated == {5: 2} and broken.unexpected == [9]
    assert broken.out_of_order == [(5, 4), (5, 5)]
    holed = {i: seq for i, seq in inbox.items() if seq != 6}  # a value the inbox never shows
    assert count_tab(_tab(3, 4, 5, 7), holed).lost == [6]
    assert len(browser_problems([clean, broken])) == 4
