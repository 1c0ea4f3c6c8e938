"""Prometheus metrics of the projections, served by the shared app at /metrics."""

from prometheus_client import Counter, Gauge

EVENTS_PROJECTED = Counter(
    "disparo_reporting_events_projected_total",
    "Events applied to the projections, by event type.",
    ["event_type"],
)
EVENTS_DUPLICATE = Counter(
    "disparo_reporting_events_duplicate_total",
    "Events skipped because the inbox had already seen them, by event type.",
    ["event_type"],
)
PROJECTION_LAG = Gauge(
    "disparo_reporting_projection_lag_seconds",
    "Seconds between the last projected event's occurred_at and its projection.",
)
