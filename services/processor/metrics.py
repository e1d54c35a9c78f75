"""Processor metrics (Prometheus)."""

from prometheus_client import Counter, Histogram

PROCESSED = Counter("herald_processor_processed_total", "Events processed")
FAILURES = Counter(
    "herald_processor_failures_total",
    "Processing attempts that failed and were rolled back",
    ["kind"],  # error (counts toward the attempt limit) / transient (an outage)
)
FAILED = Counter("herald_processor_failed_total", "Events marked failed after the last attempt")
NOTIFICATIONS = Counter("herald_processor_notifications_total", "Notifications created")
DELIVERIES = Counter(
    "herald_processor_deliveries_total", "Deliveries created, by status", ["status"]
)
LATENCY = Histogram(
    "herald_processor_latency_seconds",
    "From the event's storage by ingest to its notifications committed",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
BATCH_SECONDS = Histogram(
    "herald_processor_batch_seconds",
    "One processing transaction (a batch of events), claim to commit",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
ESCALATION_STEPS = Counter(
    "herald_processor_escalation_steps_total",
    "Escalation steps of critical notifications left unread, by what became of them",
    ["outcome"],  # sent (a delivery was created) / skipped (no address, no provider, already
    # delivered on that channel) / stopped (read, archived or denied first)
)
