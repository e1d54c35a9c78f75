"""Ingest's Prometheus metrics."""

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

RECEIVED = Counter("herald_ingest_received_total", "Messages or events received", ["via"])
STORED = Counter("herald_ingest_stored_total", "Events stored", ["via"])
DUPLICATES = Counter("herald_ingest_duplicates_total", "Repeats of a stored event", ["via"])
REJECTED = Counter(
    "herald_ingest_rejected_total", "Invalid messages stored as rejected", ["reason"]
)
STORE_SECONDS = Histogram(
    "herald_ingest_store_seconds",
    "Time to store and commit one batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
BATCH_SIZE = Histogram(
    "herald_ingest_batch_size",
    "Messages per stored batch",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500),
)
STORE_RETRIES = Counter(
    "herald_ingest_store_retries_total", "Batches retried because the database was unavailable"
)
ISOLATIONS = Counter(
    "herald_ingest_isolations_total", "Batches that failed and were stored one by one"
)
REQUEUED = Counter(
    "herald_ingest_requeued_total", "Messages that could not be stored and went back to the queue"
)
NUDGE_FAILURES = Counter(
    "herald_ingest_nudge_failures_total",
    "Events whose processor nudge was not sent (the sweep catches up)",
)


def record_outcome(via: str, stored: int, duplicates: int, rejected: Iterable[str]) -> None:
    """Count a committed batch (never before the commit, so a retried batch counts once)."""
    STORED.labels(via).inc(stored)
    DUPLICATES.labels(via).inc(duplicates)
    for kind in rejected:
        REJECTED.labels(kind).inc()
