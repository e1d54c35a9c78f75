"""Sender metrics (Prometheus): outcomes by channel, send latency, the due queue."""

from prometheus_client import Counter, Gauge, Histogram

SENT = Counter("herald_sender_sent_total", "Deliveries sent", ["channel"])
RETRIED = Counter("herald_sender_retried_total", "Deliveries put back for a retry", ["channel"])
FAILED = Counter("herald_sender_failed_total", "Deliveries failed for good", ["channel"])
DENIED = Counter(
    "herald_sender_denied_total", "Deliveries denied by the permission check", ["channel"]
)
DEFERRED = Counter(
    "herald_sender_deferred_total",
    "Deliveries put back without an attempt (rate limit, mediator unavailable)",
    ["channel"],
)
LATENCY = Histogram(
    "herald_sender_send_seconds",
    "Provider send time",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DUE = Gauge("herald_sender_due_deliveries", "Deliveries due now and not yet claimed")
UNRECORDED = Counter(
    "herald_sender_unrecorded_total",
    "Outcomes that could not be written before their lease expired (will be re-sent)",
)

BREAKER_STATE = Gauge(
    "herald_sender_breaker_state",
    "Circuit breaker per channel: 0 closed, 1 half open (probing), 2 open (provider down)",
    ["channel"],
)
BREAKER_OPENED = Counter(
    "herald_sender_breaker_opened_total", "Times a channel's breaker opened", ["channel"]
)
BREAKER_DEFERRED = Counter(
    "herald_sender_breaker_deferred_total",
    "Deliveries put back without an attempt because their provider was unreachable",
    ["channel"],
)

BY_KIND = {"sent": SENT, "retry": RETRIED, "failed": FAILED, "denied": DENIED, "deferred": DEFERRED}
