"""The chaos report: what was done to the system, what came out, and the verdict."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from tests.acceptance.chaos.browser_verdict import TabCount
from tests.acceptance.chaos.verdict import large_outcomes

if TYPE_CHECKING:
    from tests.acceptance.chaos.scenario import ChaosResult

LOG_TAIL = 3  # error lines quoted per service log when something went wrong


def render(r: ChaosResult, logs: Path) -> str:
    lines = [
        "=" * 72,
        f"HERALD CHAOS REPORT  events={r.config.events} rate={r.config.rate_per_s:g}/s "
        f"seed={r.config.seed}",
        "=" * 72,
        *_faults(r),
        *_counts(r),
        *_large(r),
        *_poison(r),
        *_duplicates(r),
        *_browsers(r),
        "queues at the end (consumers/messages/unacked): "
        + ", ".join(f"{q} {c}/{n}/{u}" for q, (c, n, u) in sorted(r.queues.items())),
    ]
    if r.problems:
        lines += ["", "FAILED:", *(f"  - {p}" for p in r.problems)]
        if r.seen.stalled:
            lines += ["still open when the wait ended:", *(f"  {s}" for s in r.seen.stalled)]
        lines += _log_tails(logs)
    else:
        lines += ["", "PASSED: events lost 0, events failed 0, deliveries lost 0, every final"
                  " status as computed, every large event whole, every poison message rejected"
                  " with its reason (none dead-lettered, none unacked), every e-mail accepted,"
                  " duplicates only after faults that can cause them, same Message-ID;"
                  " every browser tab got every notification once, in cursor order"]  # fmt: skip
    return "\n".join(lines)


def _faults(r: ChaosResult) -> list[str]:
    t0 = r.faults[0].started_at if r.faults else 0.0
    out = [f"faults injected ({len(r.faults)}):"]
    for rec in r.faults:
        f = rec.fault
        extra = f" down {f.downtime_s:.1f}s," if f.downtime_s else ""
        fail = f"  ERROR {rec.error}" if rec.error else ""
        out.append(
            f"  +{rec.started_at - t0:7.1f}s (plan +{f.offset_s:6.1f}s) {f.kind:<19}"
            f"{f.target:<13}{extra} back after {rec.duration_s:5.1f}s{fail}"
        )
        out += [f"      landed on {e}: {doing}" for e, doing in rec.landed_on.items()]
        out += [f"      {rec.note}"] if rec.note else []
    out.append(f"  kills by service: {dict(sorted(r.kills.items()))}")
    return out


def _counts(r: ChaosResult) -> list[str]:
    seen, f, load = r.seen, r.findings, r.load
    statuses = Counter(row.status for rows in seen.deliveries.values() for row in rows)
    events = Counter(seen.events.values())
    load_s = load.finished - load.started
    return [
        "",
        f"load: {load.published} events and {load.poison} poison messages published with "
        f"confirms in {load_s:.1f}s ({load.published / max(load_s, 1e-9):.0f}/s), "
        f"{load.retries} retries; {len(r.large)} large events published by their faults",
        f"settled: {seen.settled} after {seen.settled_after_s:.1f}s more; "
        f"whole storm {r.elapsed_s:.1f}s",
        f"events: published {r.config.events + len(r.large)}, stored {len(seen.events)} "
        f"{dict(events)}, lost {len(f.events_lost)}, failed {len(f.events_failed)}, "
        f"not processed {len(f.events_unprocessed)}",
        f"notifications: expected {r.expected_notes}, found {sum(seen.notifications.values())}, "
        f"lost {len(f.notifications_lost)}, unexpected {len(f.notifications_unexpected)}",
        f"deliveries: expected {sum(r.expected_rows.values())} {_sorted(r.expected_rows)}, "
        f"found {sum(statuses.values())} {_sorted(statuses)}, "
        f"lost {sum(f.deliveries_lost.values())}, wrong status {len(f.deliveries_wrong)}, "
        f"unexpected {sum(f.deliveries_unexpected.values())}, "
        f"SKIPPED without a reason {len(f.skipped_unexplained)}",
        f"e-mails: SMTP transactions {len(seen.mails)}, distinct Message-IDs "
        f"{len({m['message_id'] for m in seen.mails})}, missing {len(f.mails_missing)}, "
        f"foreign {len(f.mails_foreign)}",
    ]


def _sorted(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items()))


def _large(r: ChaosResult) -> list[str]:
    hits = Counter(e for rec in r.faults for e in rec.landed_on)
    return [
        f"large event {e}: {status}, {notes} notifications, deliveries "
        f"{_sorted(statuses)}; faults that landed mid-write: {hits.get(e, 0)}"
        for e, (status, notes, statuses) in large_outcomes(r.large, r.seen).items()
    ]


def _poison(r: ChaosResult) -> list[str]:
    f = r.findings
    rows = sum(f.poison_rows.values())
    reasons = Counter(reason.split(":", 1)[0] for _, reason in r.seen.rejected)
    return [
        f"poison: {r.load.poison} published, {len(f.poison_rows)} found as rejected rows "
        f"({rows} rows; every rejected row by reason: {_sorted(reasons)}), not rejected "
        f"{len(f.poison_unrejected)}, stored as events {len(f.poison_accepted)}, "
        f"without a reason {len(f.poison_no_reason)}"
    ]


def _duplicates(r: ChaosResult) -> list[str]:
    f = r.findings
    extra = sum(n - 1 for n in f.duplicates.values())
    causes = r.duplicate_causes
    ratio = f"{len(f.duplicates) / causes:.2f}" if causes else "n/a"
    return [
        f"duplicate e-mails: {len(f.duplicates)} Message-IDs accepted more than once "
        f"({extra} extra transactions), each with the same Message-ID and content: "
        f"{not f.duplicates_differing}",
        f"  faults that can cause them (sender kills + PostgreSQL restarts): {causes}; "
        f"duplicated mails per such fault: {ratio}; unexplained: {len(f.duplicates_unexplained)}",
        *(f"    {n:4d} after {label}" for label, n in sorted(f.duplicates_by_fault.items())),
    ]


def _browsers(r: ChaosResult) -> list[str]:
    """Per user (its tabs summed): the verdict at the browser and how hard the tabs roamed."""
    by_user: dict[str, list[TabCount]] = defaultdict(list)
    for c in r.browsers:
        by_user[c.tab.split("/")[0]].append(c)
    out = [f"browsers: {len(by_user)} users, {len(r.browsers)} tabs dropping and resuming"]
    for user, tabs in sorted(by_user.items()):
        failures: Counter[str] = Counter()
        for c in tabs:
            failures.update(c.failures)
        out.append(
            f"  {user}: cursor {min(c.first_seq for c in tabs)}→{tabs[0].final_seq}, "
            f"expected per tab {'/'.join(str(c.expected) for c in tabs)}, "
            f"delivered {'/'.join(str(c.delivered) for c in tabs)}, "
            f"lost {sum(len(c.lost) for c in tabs)}, "
            f"duplicated {sum(len(c.duplicated) for c in tabs)}, "
            f"out of order {sum(len(c.out_of_order) for c in tabs)}, "
            f"unexpected {sum(len(c.unexpected) for c in tabs)}; "
            f"connects {sum(c.connects for c in tabs)}, resumed {sum(c.resumes for c in tabs)}, "
            f"reloads {sum(c.reloads for c in tabs)} (covering "
            f"{sum(c.reloaded for c in tabs)}), failed connections {dict(failures)}"
        )
    return out


def _log_tails(logs: Path) -> list[str]:
    out = [f"service logs: {logs} (set HERALD_CHAOS_KEEP=1 to keep them)"]
    for path in sorted(logs.glob("*.log")):
        errors = [
            line
            for line in path.read_text("utf-8", errors="replace").splitlines()
            if "ERROR" in line or "Traceback" in line or "Error:" in line
        ]
        out.append(f"  {path.name}: {len(errors)} error lines")
        out += [f"    {line[:300]}" for line in errors[-LOG_TAIL:]]
    return out
