"""Prometheus metrics of followup, served by the shared app at /metrics."""

from prometheus_client import Counter, Gauge

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
JOB_LAST_SUCCESS = Gauge(
    "disparo_followup_job_last_success_timestamp_seconds",
    "Unix time of the follow-up job's last finished run (the daily slot, from the shared "
    "job_runs table, or an on-demand run in this process); 0 before the first.",
)
