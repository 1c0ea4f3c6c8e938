"""Prometheus metrics of followup, served by the shared app at /metrics."""

from prometheus_client import Counter

FOLLOWUPS_REQUESTED = Counter(
    "disparo_followup_requested_total",
    "Follow-ups requested from the dispatcher, by conversation stage.",
    ["stage"],
)
EVENTS_APPLIED = Counter(
    "disparo_followup_events_applied_total",
    "Events applied to the conversation state, by event type.",
    ["event_type"],
)
