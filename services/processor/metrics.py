"""Processor metrics."""

from prometheus_client import Counter, Histogram

PROCESSED = Counter("herald_processor_processed_total", "Events processed")
FAILURES = Counter("herald_processor_failures_total", "Processing attempts that failed")
NOTIFICATIONS = Counter("herald_processor_notifications_total", "Notifications created")
LATENCY = Histogram("herald_processor_seconds", "Time to process one event")
