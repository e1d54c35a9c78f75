"""Ingest's Prometheus metrics."""

from prometheus_client import Counter, Histogram

RECEIVED = Counter("herald_ingest_received_total", "Messages received", ["via"])
STORED = Counter("herald_ingest_stored_total", "Events stored", ["via"])
DUPLICATES = Counter("herald_ingest_duplicates_total", "Repeats of a stored event", ["via"])
REJECTED = Counter(
    "herald_ingest_rejected_total", "Invalid messages stored as rejected", ["reason"]
)
STORE_SECONDS = Histogram("herald_ingest_store_seconds", "Time to commit one message")
