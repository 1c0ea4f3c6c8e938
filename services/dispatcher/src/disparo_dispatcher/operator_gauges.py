"""The gauges an operator pages on, set from the periodic queue reads (``worker._refresh_gauges``).

Each is read from Postgres, the one truth all replicas share, so every replica reports the same
value (dashboards and alerts take ``max`` over replicas). Labels stay bounded: priority (1–10),
a failure class (a handful) and the configured senders — never a campaign, message or phone.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from disparo_dispatcher import metrics
from disparo_dispatcher.providers import classify

_TEXT_CODES = {
    classify.TIMEOUT: "transient",
    classify.CONNECTION_ERROR: "transient",
    "malformed_response": "transient",
    "lease_expired": "transient",
    "in_doubt": "transient",
    classify.EXISTS_FALSE: "permanent",
    "opted_out": "opted_out",
    "campaign_cancelled": "cancelled",
}
PAUSED_STATUSES = frozenset({"paused", "banned"})


@dataclass(frozen=True)
class QueueReading:
    """The last periodic read of the backlog, kept for ``GET /v1/queue/stats``: a page that
    polls it costs no count of the queue (most of a second at a million messages)."""

    read_at: datetime
    depth: Sequence[Mapping]  # state, priority, messages
    oldest_due: Sequence[Mapping]  # priority, age_seconds (at read_at)

    @classmethod
    def from_rows(cls, read_at: datetime, rows: Iterable[Mapping]) -> "QueueReading":
        """The reading of ``queue.queue_reading``'s rows, which count and age each state and
        priority apart: the depth as they are, and per priority the greatest of its ages."""
        depth, oldest = [], {}
        for row in rows:
            priority, age = row["priority"], row["oldest_due_age_seconds"]
            depth.append({"state": row["state"], "priority": priority, "messages": row["messages"]})
            if age is not None:
                oldest[priority] = max(age, oldest.get(priority, age))
        ages = [{"priority": p, "age_seconds": age} for p, age in oldest.items()]
        return cls(read_at, depth, ages)


def dead_reason(code: str) -> str:
    """The failure class behind a dead message's last code, a bounded label.

    ``dead_reason("131026")`` → ``"permanent"``; ``dead_reason("http_503")`` → ``"transient"``
    (it ran out of attempts); an unknown code → ``"other"``.
    """
    graph = classify.graph_code_class(code)
    if graph is not None:
        return graph.value
    if code.startswith("http_") and code[5:].isdigit():
        return classify.classify_http_status(int(code[5:])).value
    return _TEXT_CODES.get(code, "other")


def set_operator_gauges(
    oldest_due: Iterable[Mapping], dead_by_code: Iterable[Mapping], senders: Iterable[Mapping]
) -> None:
    """Replace the oldest-due, dead and sender gauges with this read's values."""
    metrics.OLDEST_DUE_AGE.clear()
    for row in oldest_due:
        metrics.OLDEST_DUE_AGE.labels(str(row["priority"])).set(max(0.0, row["age_seconds"]))
    dead: Counter[str] = Counter()
    for row in dead_by_code:
        dead[dead_reason(row["code"])] += row["messages"]
    metrics.DEAD_MESSAGES.clear()
    for reason, count in dead.items():
        metrics.DEAD_MESSAGES.labels(reason).set(count)
    metrics.SENDER_PAUSED.clear()
    metrics.SENDER_RATE_LIMIT.clear()
    for row in senders:
        metrics.SENDER_PAUSED.labels(row["sender_id"]).set(
            1 if row["status"] in PAUSED_STATUSES else 0
        )
        metrics.SENDER_RATE_LIMIT.labels(row["sender_id"]).set(row["rate_per_second"])


QUALITY_RATINGS = {"GREEN": 0, "YELLOW": 1, "RED": 2}


def set_cloud_number_gauges(numbers: Iterable[Mapping]) -> None:
    """Replace each Cloud number's quality and messaging-tier gauges with this read's values.

    ``{"sender_id": "recife-01", "quality": "YELLOW", "tier": "TIER_2K", "tier_limit": 2000}``
    sets ``disparo_dispatcher_sender_quality_rating{sender="recife-01"}`` to 1 and
    ``…_messaging_tier_recipients{sender="recife-01", tier="TIER_2K"}`` to 2000 (a NULL limit,
    ``TIER_UNLIMITED``, is +Inf). A number no longer configured loses its series.
    """
    metrics.SENDER_QUALITY.clear()
    metrics.SENDER_MESSAGING_TIER.clear()
    for row in numbers:
        sender = row["sender_id"]
        metrics.SENDER_QUALITY.labels(sender).set(QUALITY_RATINGS.get(row["quality"], -1))
        limit = row["tier_limit"]
        metrics.SENDER_MESSAGING_TIER.labels(sender, row["tier"]).set(
            float("inf") if limit is None else limit
        )


def set_sender_usage(
    held: Iterable[tuple[str, int, int | None]], tier_use: Mapping[str, Mapping]
) -> None:
    """Replace the senders' usage gauges with this read's values.

    ``held`` is (sender id, sends today, today's cap or None) of each sender this replica holds:
    the count the send loop holds the cap to, so a released sender stops being reported here
    and its new holder reports it. ``tier_use`` is ``tiers.sender_health``'s, per Cloud sender:
    the distinct doctors its portfolio reached in 24 h (its limit is
    ``set_cloud_number_gauges``'s).
    """
    metrics.SENDER_SENT_TODAY.clear()
    metrics.SENDER_DAILY_CAP.clear()
    for sender_id, sent_today, cap_today in held:
        metrics.SENDER_SENT_TODAY.labels(sender_id).set(sent_today)
        if cap_today is not None:
            metrics.SENDER_DAILY_CAP.labels(sender_id).set(cap_today)
    metrics.SENDER_TIER_RECIPIENTS.clear()
    for sender_id, use in tier_use.items():
        metrics.SENDER_TIER_RECIPIENTS.labels(sender_id).set(use["portfolio_recipients_24h"])
