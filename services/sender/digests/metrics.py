"""Digest metrics: how many were built, how big they are, how late they ran."""

from prometheus_client import Counter, Histogram

BUILT = Counter("herald_digests_built_total", "Digests built", ["channel"])
EMPTY = Counter("herald_digests_empty_windows_total", "Due windows with nothing to send")
ITEMS = Histogram(
    "herald_digest_items",
    "Items per digest",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
)
LAG = Histogram(
    "herald_digest_lag_seconds",
    "How long after its scheduled time a digest was built",
    buckets=(0.5, 1, 5, 15, 30, 60, 120, 300, 900, 3600, 6 * 3600, 24 * 3600),
)
FAILED = Counter("herald_digest_failures_total", "Schedules whose digest failed and was postponed")
RELEASED = Counter(
    "herald_digest_released_total", "Waiting items released as instant (digest switched off)"
)
PROVISIONED = Counter(
    "herald_digest_default_schedules_total", "Default schedules created for new digest users"
)
