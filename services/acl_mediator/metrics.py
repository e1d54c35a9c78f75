"""The mediator's Prometheus metrics. Module labels are configured names only (or
``unknown``), so crafted module names cannot grow the label set."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CHECKS = Counter(
    "herald_acl_checks_total",
    "Items checked, by where the answer came from (cache, coalesced, upstream, unknown_module)",
    ["source"],
)
FROM_CACHE = CHECKS.labels("cache")
COALESCED = CHECKS.labels("coalesced")
FROM_UPSTREAM = CHECKS.labels("upstream")
UNKNOWN_MODULE = CHECKS.labels("unknown_module")

DECISIONS = Counter("herald_acl_decisions_total", "Items answered, by outcome", ["outcome"])
ALLOWED = DECISIONS.labels("allowed")
DENIED = DECISIONS.labels("denied")
ERRORED = DECISIONS.labels("error")

CACHE_HIT_RATIO = Gauge(
    "herald_acl_cache_hit_ratio", "Share of checked items answered from the cache (since start)"
)
CACHE_ENTRIES = Gauge("herald_acl_cache_entries", "Answers currently cached")

UPSTREAM_CALLS = Counter(
    "herald_acl_upstream_calls_total", "Calls to module backends", ["module", "outcome"]
)
UPSTREAM_SECONDS = Histogram(
    "herald_acl_upstream_seconds",
    "Latency of module backend calls",
    ["module"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ITEM_ERRORS = Counter(
    "herald_acl_item_errors_total", "Items denied because of an error", ["module", "kind"]
)
INVALIDATIONS = Counter("herald_acl_invalidations_total", "Entries dropped by invalidation")
