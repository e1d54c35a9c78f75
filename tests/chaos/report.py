"""The chaos report: what was done to the system, what came out, and the verdict."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.chaos.scenario import ChaosResult

LOG_TAIL = 3  # error lines quoted per service log when something went wrong


def render(r: ChaosResult, logs: Path) -> str:
    lines = [
        "=" * 72,
        f"HERALD CHAOS REPORT  events={r.config.events} rate={r.config.rate_per_s:g}/s "
        f"seed={r.config.seed}",
        "=" * 72,
        *_faults(r),
        *_counts(r),
        *_duplicates(r),
        "queues at the end (consumers, messages): "
        + ", ".join(f"{q} {c}/{n}" for q, (c, n) in sorted(r.queues.items())),
    ]
    if r.problems:
        lines += ["", "FAILED:", *(f"  - {p}" for p in r.problems), *_log_tails(logs)]
    else:
        lines += ["", "PASSED: events lost 0, deliveries lost 0, every e-mail accepted,"
                  " duplicates only after faults that can cause them, same Message-ID"]  # fmt: skip
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
    out.append(f"  kills by service: {dict(sorted(r.kills.items()))}")
    return out


def _counts(r: ChaosResult) -> list[str]:
    seen, f, load = r.seen, r.findings, r.load
    statuses = Counter(d[0] for d in seen.deliveries.values())
    events = Counter(seen.events.values())
    load_s = load.finished - load.started
    return [
        "",
        f"load: {load.published} events published with confirms in {load_s:.1f}s "
        f"({load.published / max(load_s, 1e-9):.0f}/s), {load.retries} chunk retries",
        f"settled: {seen.settled} after {seen.settled_after_s:.1f}s more; "
        f"whole storm {r.elapsed_s:.1f}s",
        f"events: published {r.config.events}, stored {len(seen.events)} {dict(events)}, "
        f"lost {len(f.events_lost)}, not processed {len(f.events_unprocessed)}",
        f"deliveries: expected {r.config.events * 4}, found {len(seen.deliveries)} "
        f"{dict(statuses)}, lost {len(f.deliveries_lost)}, not SENT {len(f.deliveries_not_sent)}",
        f"e-mails: SMTP transactions {len(seen.mails)}, distinct Message-IDs "
        f"{len({m['message_id'] for m in seen.mails})}, missing {len(f.mails_missing)}, "
        f"foreign {len(f.mails_foreign)}",
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
