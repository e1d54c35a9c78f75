"""What the system did (``verify.Observed``) against what it had to do (``expected.py``).

Deliveries are compared per (event, person, channel) as the sorted list of their rows'
statuses: fewer rows than expected is a lost delivery, more an unexpected one, the same number
with other statuses a wrong status. Every ``SKIPPED`` row must say why.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from tests.acceptance.chaos.expected import DeliveryKey, Expected
from tests.acceptance.chaos.population import LARGE_RECIPIENTS, MAIL_DOMAIN
from tests.acceptance.chaos.verify import Observed

Windows = list[tuple[str, float, float]]  # (fault label, start, end), wall clock


def message_id(delivery_id: int) -> str:
    return f"<delivery-{delivery_id}@{MAIL_DOMAIN}>"


@dataclass
class Findings:
    events_lost: list[str] = field(default_factory=list)
    events_unprocessed: dict[str, str] = field(default_factory=dict)
    events_failed: list[str] = field(default_factory=list)
    notifications_lost: list[tuple[str, str]] = field(default_factory=list)
    notifications_unexpected: list[tuple[str, str]] = field(default_factory=list)
    deliveries_lost: dict[DeliveryKey, int] = field(default_factory=dict)  # key → rows missing
    deliveries_unexpected: dict[DeliveryKey, int] = field(default_factory=dict)  # rows too many
    deliveries_wrong: dict[DeliveryKey, tuple[str, ...]] = field(default_factory=dict)
    skipped_unexplained: list[DeliveryKey] = field(default_factory=list)  # SKIPPED, no reason
    large_incomplete: dict[str, str] = field(default_factory=dict)  # large event → what it got
    poison_unrejected: list[str] = field(default_factory=list)  # marker in no rejected row
    poison_accepted: dict[str, str] = field(default_factory=dict)  # stored as an event
    poison_no_reason: list[str] = field(default_factory=list)
    poison_rows: Counter[str] = field(default_factory=Counter)  # marker → rejected rows
    mails_missing: list[str] = field(default_factory=list)  # SENT e-mail the sink never saw
    mails_foreign: list[str] = field(default_factory=list)  # a Message-ID no delivery has
    duplicates: dict[str, int] = field(default_factory=dict)  # Message-ID → times accepted
    duplicates_differing: list[str] = field(default_factory=list)  # same id, other mail
    duplicates_unexplained: list[str] = field(default_factory=list)  # no fault could cause
    duplicates_unclaimed: list[str] = field(default_factory=list)  # sent more than claimed
    duplicates_by_fault: Counter[str] = field(default_factory=Counter)  # fault label → mails


def examine(
    published: list[str],
    large: list[str],
    expected: Expected,
    expected_notes: set[tuple[str, str]],
    markers: list[str],
    seen: Observed,
    dup_faults: Windows,
) -> Findings:
    """``dup_faults``: the windows of the faults that may strand an accepted but unrecorded
    e-mail — sender kills and PostgreSQL restarts."""
    f = Findings()
    f.events_lost = sorted(set(published) - set(seen.events))
    f.events_unprocessed = {i: s for i, s in seen.events.items() if s != "processed"}
    f.events_failed = sorted(i for i, s in seen.events.items() if s == "failed")
    notes = set(seen.notifications)
    f.notifications_lost = sorted(expected_notes - notes)
    f.notifications_unexpected = sorted(notes - expected_notes)
    f.notifications_unexpected += sorted(k for k, n in seen.notifications.items() if n > 1)
    _examine_deliveries(f, expected, seen)
    _examine_large(f, large, expected, seen)
    _examine_poison(f, markers, seen)
    _examine_mails(f, seen, dup_faults)
    return f


def _examine_deliveries(f: Findings, expected: Expected, seen: Observed) -> None:
    for key in expected.keys() | seen.deliveries.keys():
        want = expected.get(key, ())
        rows = seen.deliveries.get(key, [])
        got = tuple(sorted(r.status for r in rows))
        if len(got) < len(want):
            f.deliveries_lost[key] = len(want) - len(got)
        elif len(got) > len(want):
            f.deliveries_unexpected[key] = len(got) - len(want)
        elif got != want:
            f.deliveries_wrong[key] = got
        if any(r.status == "SKIPPED" and not r.reason.strip() for r in rows):
            f.skipped_unexplained.append(key)


def _examine_large(f: Findings, large: list[str], expected: Expected, seen: Observed) -> None:
    """Each large event: processed, exactly 5,000 notifications, its deliveries as expected."""
    for event_id, got in large_outcomes(large, seen).items():
        want = Counter(s for k, v in expected.items() if k[0] == event_id for s in v)
        status, notes, statuses = got
        if (status, notes, statuses) != ("processed", LARGE_RECIPIENTS, want):
            f.large_incomplete[event_id] = f"{status}, {notes} notifications, {dict(statuses)}"


def large_outcomes(large: list[str], seen: Observed) -> dict[str, tuple[str, int, Counter[str]]]:
    """Large event → (status, notifications, delivery statuses)."""
    notes = Counter(e for e, _ in seen.notifications)
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    for key, rows in seen.deliveries.items():
        if key[0] in large:
            statuses[key[0]].update(r.status for r in rows)
    return {
        e: (seen.events.get(e, "missing"), notes.get(e, 0), statuses.get(e, Counter()))
        for e in large
    }


def _examine_poison(f: Findings, markers: list[str], seen: Observed) -> None:
    reasons: dict[str, list[str]] = defaultdict(list)
    for raw, reason in seen.rejected:
        for marker in markers:
            if marker.encode() in raw:
                reasons[marker].append(reason)
    f.poison_rows = Counter({m: len(r) for m, r in reasons.items()})
    f.poison_unrejected = [m for m in markers if m not in reasons]
    f.poison_no_reason = [m for m, r in reasons.items() if not all(x.strip() for x in r)]
    f.poison_accepted = {m: s for m, s in seen.poison_events.items() if m in markers}


def _examine_mails(f: Findings, seen: Observed, dup_faults: Windows) -> None:
    email = [r for k, rows in seen.deliveries.items() if k[2] == "email" for r in rows]
    attempts = {message_id(r.id): r.attempts for r in email}
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for mail in seen.mails:
        by_id[str(mail["message_id"])].append(mail)
    sent = {message_id(r.id) for r in email if r.status == "SENT"}
    f.mails_missing = sorted(sent - set(by_id))
    f.mails_foreign = sorted(set(by_id) - set(attempts))
    counts = Counter({mid: len(mails) for mid, mails in by_id.items()})
    f.duplicates = {mid: n for mid, n in counts.items() if n > 1}
    for mid in f.duplicates:
        copies = by_id[mid]
        if len({(tuple(m["to"]), m["subject"]) for m in copies}) > 1:
            f.duplicates_differing.append(mid)
        first, last = min(m["at"] for m in copies), max(m["at"] for m in copies)
        # the first copy went out before the fault, a later one after it
        causes = [label for label, start, end in dup_faults if start <= last and end >= first]
        if causes:
            f.duplicates_by_fault[causes[0]] += 1
        if len(copies) - 1 > len(causes):  # each extra copy needs a fault of its own
            f.duplicates_unexplained.append(mid)
        if len(copies) > attempts.get(mid, 0):  # each send needs a claim: else two senders
            f.duplicates_unclaimed.append(mid)  # held the row at once (a locking bug)


def problems(f: Findings, in_flight_max: int) -> list[str]:
    """Each broken promise, in words; empty when the run proved what it should.
    ``in_flight_max``: deliveries one sender holds at most (loops × batch) — no fault can
    strand more than those."""
    checks: list[tuple[Any, str]] = [
        (f.events_lost, "events lost"),
        (f.events_failed, "events failed"),
        (f.events_unprocessed, "events not processed"),
        (f.notifications_lost, "notifications lost"),
        (f.notifications_unexpected, "unexpected or repeated notifications"),
        (f.deliveries_lost, "deliveries lost (key → rows missing)"),
        (f.deliveries_wrong, "deliveries in another final status than expected"),
        (f.deliveries_unexpected, "unexpected deliveries (key → rows too many)"),
        (f.skipped_unexplained, "SKIPPED deliveries without a reason"),
        (f.large_incomplete, "large events not processed with every notification and delivery"),
        (f.poison_unrejected, "poison messages without a rejected row"),
        (f.poison_accepted, "poison messages stored as events"),
        (f.poison_no_reason, "poison messages rejected without a reason"),
        (f.mails_missing, "SENT e-mails the SMTP server never accepted"),
        (f.mails_foreign, "e-mails with a Message-ID no delivery has"),
        (f.duplicates_differing, "duplicate Message-IDs carrying different mails"),
        (f.duplicates_unexplained, "duplicate e-mails without a sender kill or PG restart each"),
        (f.duplicates_unclaimed, "e-mails sent more often than their delivery was claimed"),
    ]
    out = [
        f"{n} duplicates after {label}: more than the {in_flight_max} a sender holds at most"
        for label, n in f.duplicates_by_fault.items()
        if n > in_flight_max
    ]
    for found, what in checks:
        if found:
            sample = list(found.items())[:5] if isinstance(found, dict) else list(found)[:5]
            out.append(f"{what}: {len(found)} (e.g. {sample})")
    return out
