"""Prometheus metrics of the send queue, exported by the shared ``/metrics`` endpoint.

Counters and the latency histogram are updated in memory as sends finish; queue depth is a gauge
refreshed from one grouped count every few seconds, never counted per send in SQL.
"""

from prometheus_client import Counter, Gauge, Histogram

QUEUE_DEPTH = Gauge(
    "disparo_dispatcher_queue_messages",
    "Messages by state (queued, sending, in_doubt, held, dead) and priority, refreshed "
    "periodically.",
    ["state", "priority"],
)
SENDS = Counter(
    "disparo_dispatcher_sends_total",
    "Provider calls by sender and outcome (accepted, rejected).",
    ["sender", "outcome"],
)
FAILURES = Counter(
    "disparo_dispatcher_send_failures_total",
    "Rejected sends by sender, provider error code and failure class.",
    ["sender", "code", "failure_class"],
)
REQUESTS_DROPPED = Counter(
    "disparo_dispatcher_requests_dropped_total",
    "Requested messages not queued because another message holds their idempotency key "
    "(reason idempotency_key_taken); each also ends with a final message.failed.",
    ["reason"],
)
LIMIT_WAITS = Counter(
    "disparo_dispatcher_limit_waits_total",
    "Claimed messages put back to wait for a limit (quiet_hours, pair_spacing, recipient_daily, "
    "campaign_daily, sender_daily, campaign_paused, …); waits cost no attempt.",
    ["limit"],
)
RATE_WAIT_SECONDS = Counter(
    "disparo_dispatcher_sender_rate_wait_seconds_total",
    "Seconds senders spent waiting for their per-second limit with messages ready.",
    ["sender"],
)
ENQUEUE_TO_SENT = Histogram(
    "disparo_dispatcher_enqueue_to_sent_seconds",
    "From enqueue to the provider's acceptance, by priority.",
    ["priority"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0),
)
# A reply's way into the queue, in two parts: a wait that grows points at the bus or at the
# handlers pulled before it, a handler that grows points at Postgres.
INTAKE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
INTAKE_WAIT = Histogram(
    "disparo_dispatcher_intake_wait_seconds",
    "From a messages.requested event's storage in JetStream to its handler starting (the pull, "
    "and the handlers of the pull before), by consumer: urgent (replies) or requests.",
    ["consumer"],
    buckets=INTAKE_BUCKETS,
)
INTAKE_HANDLER = Histogram(
    "disparo_dispatcher_intake_handler_seconds",
    "One messages.requested event persisted, by consumer (requests: with its wait for a turn).",
    ["consumer"],
    buckets=INTAKE_BUCKETS,
)
for _consumer in ("urgent", "requests"):  # exported (at zero) before the first event
    INTAKE_WAIT.labels(_consumer)
    INTAKE_HANDLER.labels(_consumer)
SENDERS_HELD = Gauge("disparo_dispatcher_senders_held", "Senders this replica holds a lease on.")
CLAIMED = Counter("disparo_dispatcher_claimed_total", "Messages claimed by this replica.")
# A claim's cost must not grow with the backlog: its time over the messages it claimed is the
# figure to watch (the benchmark prints it by backlog size).
CLAIM_SECONDS = Histogram(
    "disparo_dispatcher_claim_seconds",
    "Duration of one claim statement (all senders with room at once).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_DOUBT_ENTERED = Counter(
    "disparo_dispatcher_in_doubt_total",
    "Sends whose outcome was unknown (reason: lease_expired after a crash, timeout, "
    "connection_error), held until the provider's echo settles them.",
    ["reason"],
)
IN_DOUBT_SETTLED = Counter(
    "disparo_dispatcher_in_doubt_settled_total",
    "Doubtful sends settled: sent (the provider echoed them), found (its search listed them), "
    "retried or dead (back in line: the provider said it never took them, or the kind is sent "
    "at least once), held (at most once: waiting for a person).",
    ["outcome"],
)
IN_DOUBT_VERDICTS = Counter(
    "disparo_dispatcher_in_doubt_verdicts_total",
    "Verdicts kept in in_doubt_settlements: echoed, found (the provider's search listed it), "
    "absent (it proved the provider never took it), resent (at least once), held (at most once, "
    "for a person), and a person's: requeued, or person (checked: it did go out).",
    ["verdict"],
)
# How long the provider may still take a request after we gave up on it: a found-delay near
# provider_processing_horizon_seconds (30 s) means absence is proven too early (duplicates).
IN_DOUBT_FOUND_AFTER = Histogram(
    "disparo_dispatcher_in_doubt_found_after_seconds",
    "From the start of a doubt to the provider's search first finding the send.",
    buckets=(1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 25.0, 30.0, 45.0, 60.0, 120.0, 300.0),
)
IN_DOUBT_LOOKUPS = Counter(
    "disparo_dispatcher_in_doubt_lookups_total",
    "Searches of a provider's sent messages for doubtful sends: answered or failed.",
    ["result"],
)
OLDEST_DUE_AGE = Gauge(
    "disparo_dispatcher_oldest_due_age_seconds",
    "Age of the oldest queued message that is due (its due time passed) by priority: how long "
    "the most patient ready message has been waiting. 0 when none is due.",
    ["priority"],
)
DEAD_MESSAGES = Gauge(
    "disparo_dispatcher_dead_messages",
    "Dead messages in the queue by reason (the failure class of their last error); its rise "
    "per minute is the dead rate, refreshed periodically.",
    ["reason"],
)
SENDER_PAUSED = Gauge(
    "disparo_dispatcher_sender_paused",
    "1 when the sender is paused or banned (no message leaves through it), else 0.",
    ["sender"],
)
SENDER_RATE_LIMIT = Gauge(
    "disparo_dispatcher_sender_rate_limit_per_second",
    "Each sender's configured messages per second (what it is allowed, not what it sends).",
    ["sender"],
)
SENDER_SENT_TODAY = Gauge(
    "disparo_dispatcher_sender_sent_today",
    "Sends each sender made today (its day starts at midnight in the dispatcher's time zone), as "
    "the replica holding it counts them against its daily cap; only the holder reports it.",
    ["sender"],
)
SENDER_DAILY_CAP = Gauge(
    "disparo_dispatcher_sender_daily_cap",
    "Each sender's send cap for today (its daily limit or warm-up step); absent when uncapped. "
    "Reported by the replica holding the sender.",
    ["sender"],
)
SENDER_TIER_RECIPIENTS = Gauge(
    "disparo_dispatcher_sender_portfolio_recipients_24h",
    "Distinct doctors the Cloud sender's portfolio reached with templates in the last 24 h "
    "(all its numbers together: compare with disparo_dispatcher_sender_messaging_tier_recipients).",
    ["sender"],
)
SENDER_QUALITY = Gauge(
    "disparo_dispatcher_sender_quality_rating",
    "Each Cloud API number's quality rating as Meta last reported it: 0 GREEN, 1 YELLOW, 2 RED "
    "(RED takes no campaign traffic), -1 not known.",
    ["sender"],
)
SENDER_MESSAGING_TIER = Gauge(
    "disparo_dispatcher_sender_messaging_tier_recipients",
    "Unique business-initiated recipients per rolling 24 h that each Cloud API number's "
    "business portfolio may reach (its messaging tier, named in `tier`; +Inf: unlimited).",
    ["sender", "tier"],
)
WEBHOOK_LAG = Histogram(
    "disparo_dispatcher_webhook_lag_seconds",
    "From the provider's event time to our recording of the webhook, by provider and kind "
    "(status, inbound).",
    ["provider", "kind"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
)
WEBHOOK_LAST_RECEIVED = Gauge(
    "disparo_dispatcher_webhook_last_received_timestamp_seconds",
    "Unix time of the last status or inbound webhook recorded, by provider.",
    ["provider"],
)
TABLE_CARE = Counter(
    "disparo_dispatcher_table_care_total",
    "Vacuum and analyse passes the dispatcher ran on its hot tables because autovacuum had not "
    "(table_care.py), by table and action.",
    ["table", "action"],
)
MESSAGES_ARCHIVED = Counter(
    "disparo_dispatcher_messages_archived_total",
    "Finished messages moved from the hot queue table to messages_archive (archive.py).",
)
