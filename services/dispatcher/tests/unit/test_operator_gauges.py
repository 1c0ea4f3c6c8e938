"""The operator gauges: bounded reasons for dead messages, and values replaced on each read."""

from datetime import UTC, datetime

from prometheus_client import REGISTRY

from disparo_dispatcher.operator_gauges import (
    QueueReading,
    dead_reason,
    set_operator_gauges,
    set_sender_usage,
)


def sample(name: str, labels: dict[str, str]) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_dead_reasons_are_failure_classes_not_codes() -> None:
    assert dead_reason("131026") == "permanent"
    assert dead_reason("131050") == "opted_out"
    assert dead_reason("131047") == "needs_template"
    assert dead_reason("http_503") == "transient"
    assert dead_reason("http_404") == "pause_sender"
    assert dead_reason("exists_false") == "permanent"
    assert dead_reason("timeout") == "transient"
    assert dead_reason("something new") == "other"


def test_each_read_replaces_the_previous_values() -> None:
    set_operator_gauges(
        oldest_due=[{"priority": 10, "age_seconds": 75.0}, {"priority": 5, "age_seconds": 3.0}],
        dead_by_code=[
            {"code": "131026", "messages": 4},
            {"code": "exists_false", "messages": 2},
            {"code": "http_503", "messages": 1},
        ],
        senders=[
            {"sender_id": "n1", "status": "active", "rate_per_second": 80},
            {"sender_id": "n2", "status": "paused", "rate_per_second": 20},
        ],
    )
    assert sample("disparo_dispatcher_oldest_due_age_seconds", {"priority": "10"}) == 75.0
    assert sample("disparo_dispatcher_dead_messages", {"reason": "permanent"}) == 6
    assert sample("disparo_dispatcher_dead_messages", {"reason": "transient"}) == 1
    assert sample("disparo_dispatcher_sender_paused", {"sender": "n2"}) == 1
    assert sample("disparo_dispatcher_sender_paused", {"sender": "n1"}) == 0
    assert sample("disparo_dispatcher_sender_rate_limit_per_second", {"sender": "n1"}) == 80

    set_operator_gauges(oldest_due=[], dead_by_code=[], senders=[])
    # nothing due any more: the series goes away rather than keeping its last age
    assert sample("disparo_dispatcher_oldest_due_age_seconds", {"priority": "10"}) is None
    assert sample("disparo_dispatcher_dead_messages", {"reason": "permanent"}) is None


def test_a_released_sender_is_no_longer_reported_by_this_replica() -> None:
    reach = {"c1": {"tier_limit": 2000, "portfolio_recipients_24h": 1500}}
    set_sender_usage([("n1", 40, 50), ("n2", 7, None)], reach)
    assert sample("disparo_dispatcher_sender_sent_today", {"sender": "n1"}) == 40
    assert sample("disparo_dispatcher_sender_daily_cap", {"sender": "n1"}) == 50
    assert sample("disparo_dispatcher_sender_daily_cap", {"sender": "n2"}) is None  # uncapped
    assert sample("disparo_dispatcher_sender_portfolio_recipients_24h", {"sender": "c1"}) == 1500

    set_sender_usage([("n2", 8, None)], {})  # n1 went to another replica; c1 was removed
    assert sample("disparo_dispatcher_sender_sent_today", {"sender": "n1"}) is None
    assert sample("disparo_dispatcher_sender_sent_today", {"sender": "n2"}) == 8
    assert sample("disparo_dispatcher_sender_portfolio_recipients_24h", {"sender": "c1"}) is None


def test_cloud_numbers_report_quality_as_a_rating_and_their_portfolios_tier() -> None:
    from disparo_dispatcher.operator_gauges import set_cloud_number_gauges

    set_cloud_number_gauges(
        [
            {"sender_id": "c1", "quality": "GREEN", "tier": "TIER_250", "tier_limit": 250},
            {"sender_id": "c2", "quality": "YELLOW", "tier": "TIER_2K", "tier_limit": 2000},
            {"sender_id": "c3", "quality": "RED", "tier": "TIER_UNLIMITED", "tier_limit": None},
            {"sender_id": "c4", "quality": "UNKNOWN", "tier": "TIER_250", "tier_limit": 250},
        ]
    )
    rating = "disparo_dispatcher_sender_quality_rating"
    assert [sample(rating, {"sender": s}) for s in ("c1", "c2", "c3", "c4")] == [0, 1, 2, -1]
    tier = "disparo_dispatcher_sender_messaging_tier_recipients"
    assert sample(tier, {"sender": "c2", "tier": "TIER_2K"}) == 2000
    assert sample(tier, {"sender": "c3", "tier": "TIER_UNLIMITED"}) == float("inf")

    set_cloud_number_gauges(
        [{"sender_id": "c2", "quality": "GREEN", "tier": "TIER_10K", "tier_limit": 10000}]
    )
    assert sample(rating, {"sender": "c1"}) is None  # no longer configured: no series
    assert sample(rating, {"sender": "c2"}) == 0
    assert sample(tier, {"sender": "c2", "tier": "TIER_2K"}) is None  # the old tier's series
    assert sample(tier, {"sender": "c2", "tier": "TIER_10K"}) == 10000


def test_a_reading_ages_each_priority_by_the_oldest_of_its_groups() -> None:
    rows = [
        {"state": "queued", "priority": 5, "messages": 7, "oldest_due_age_seconds": 40.0},
        {"state": "in_doubt_held", "priority": 5, "messages": 1, "oldest_due_age_seconds": 90.0},
        {"state": "sending", "priority": 5, "messages": 3, "oldest_due_age_seconds": None},
        {"state": "queued", "priority": 10, "messages": 1, "oldest_due_age_seconds": 0.5},
        {"state": "dead", "priority": 1, "messages": 2, "oldest_due_age_seconds": None},
    ]
    reading = QueueReading.from_rows(datetime(2026, 12, 6, tzinfo=UTC), rows)
    assert [(r["state"], r["priority"], r["messages"]) for r in reading.depth] == [
        ("queued", 5, 7),
        ("in_doubt_held", 5, 1),
        ("sending", 5, 3),
        ("queued", 10, 1),
        ("dead", 1, 2),
    ]
    assert reading.oldest_due == [
        {"priority": 5, "age_seconds": 90.0},
        {"priority": 10, "age_seconds": 0.5},
    ]
