"""The gateway's Prometheus metrics (per process; a scrape target per worker)."""

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Gauge("herald_ws_connections", "Open authenticated connections")
SUBSCRIPTIONS = Gauge("herald_ws_subscriptions", "Entity feed subscriptions held")
REFUSED = Counter("herald_ws_refused_total", "Connections refused or closed early", ["reason"])
MESSAGES_OUT = Counter("herald_ws_messages_out_total", "Frames pushed to browsers", ["kind"])
DROPS = Counter("herald_ws_drops_total", "Clients dropped for falling behind")
DENIED = Counter("herald_ws_denied_total", "Entity events withheld by the permission check")
MEDIATOR_CALLS = Counter("herald_ws_mediator_calls_total", "Permission batch calls", ["outcome"])
BUS_MESSAGES = Counter("herald_ws_bus_messages_total", "Messages taken from the bus", ["kind"])
PUSH_SECONDS = Histogram(
    "herald_ws_event_push_seconds",
    "Entity event taken off the queue → last frame written (permission check included)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
