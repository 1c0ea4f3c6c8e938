"""Prometheus metrics of the projections, served by the shared app at /metrics."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PROJECTED = Counter(
    "disparo_reporting_events_projected_total",
    "Events applied to the projections, by event type.",
    ["event_type"],
)
MESSAGES_PROJECTED = Counter(
    "disparo_reporting_messages_projected_total",
    "Messages the applied events spoke of, by event type: a batch event (requested, enqueued, "
    "sent) counts its messages, any other event one; sent messages per second, for instance, "
    "where events_projected_total counts the dispatcher's flushes.",
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
BATCH_SIZE = Histogram(
    "disparo_reporting_batch_events",
    "Events projected together in one transaction (one pull of a subscription).",
    buckets=(1, 5, 20, 50, 100, 200, 500, 1000),
)
BATCH_FALLBACKS = Counter(
    "disparo_reporting_batch_fallbacks_total",
    "Batches whose transaction failed, so their events were projected one by one (a poison "
    "event, or Postgres away).",
)
