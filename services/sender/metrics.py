"""Sender metrics."""

from prometheus_client import Counter, Histogram

SENT = Counter("herald_sender_sent_total", "Deliveries sent", ["channel"])
RETRIED = Counter("herald_sender_retried_total", "Deliveries put back for a retry", ["channel"])
FAILED = Counter("herald_sender_failed_total", "Deliveries failed for good", ["channel"])
LATENCY = Histogram("herald_sender_send_seconds", "Provider send time", ["channel"])
