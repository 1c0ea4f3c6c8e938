"""The benchmark's view of the queue over time: intervals, claim cost by backlog, counters."""

import pytest

from disparo.bench.analysis import (
    LoopLag,
    QueueSample,
    claim_cost_by_backlog,
    claim_cost_spread,
    loop_lag_around,
    timeline,
)
from disparo.bench.claim_counters import ClaimCounters, bucket_quantile, read_claim_counters


def _sample(at, pending, accepted=0, claims=0, seconds=0.0, claimed=0):
    return QueueSample(at, 1_000_000, pending, accepted, claims, seconds, claimed)


def test_the_timeline_cuts_the_run_into_ten_second_intervals():
    samples = [
        _sample(0, 1000),
        _sample(5, 900, accepted=500, claims=10, seconds=0.1, claimed=500),
        _sample(10, 800, accepted=1000, claims=20, seconds=0.2, claimed=1000),
        _sample(14, 700, accepted=1400, claims=30, seconds=0.4, claimed=1400),
    ]
    rows = timeline(samples, every=10)
    assert [r.at for r in rows] == [10, 14]
    first, last = rows
    assert first.sent_per_second == 100
    assert first.claim_ms == pytest.approx(10.0)
    assert first.claim_us_per_message == pytest.approx(200.0)
    assert last.pending == 700
    assert last.sent_per_second == 100
    assert last.claim_us_per_message == pytest.approx(500.0)


def test_an_interval_without_claims_has_no_claim_cost():
    rows = timeline([_sample(0, 10), _sample(10, 10)], every=10)
    assert rows[0].claim_ms is None and rows[0].claim_us_per_message is None


def test_claim_cost_is_counted_in_the_backlog_band_each_interval_started_in():
    samples = [
        _sample(0, 2_000_000),
        _sample(1, 1_500_000, claims=1, seconds=0.4, claimed=4000),  # 100 µs, band ≥ 1M
        _sample(2, 50_000, claims=2, seconds=0.8, claimed=8000),  # 100 µs, still band ≥ 1M
        _sample(3, 40_000, claims=3, seconds=0.9, claimed=10_000),  # 50 µs, band 10k–100k
    ]
    costs = claim_cost_by_backlog(samples, min_claimed=1000)
    assert [(c.low, c.high) for c in costs] == [(10_000, 100_000), (1_000_000, 5_000_000)]
    assert costs[0].us_per_message == pytest.approx(50.0)
    assert costs[1].us_per_message == pytest.approx(100.0)
    assert costs[1].intervals == 2
    assert claim_cost_spread(costs) == pytest.approx(2.0)


def test_the_spread_can_leave_out_the_bands_below_a_backlog():
    samples = [
        _sample(0, 50_000),
        _sample(1, 20_000, claims=1, seconds=0.4, claimed=4000),  # 100 µs, band 10k–100k
        _sample(2, 200_000, claims=2, seconds=0.8, claimed=8000),  # 100 µs, band 10k–100k
        _sample(3, 5_000, claims=3, seconds=1.2, claimed=10_000),  # 200 µs, band 100k–500k
        _sample(4, 1_000, claims=4, seconds=1.6, claimed=11_000),  # 400 µs, band 0–10k
    ]
    costs = claim_cost_by_backlog(samples, min_claimed=1000)
    assert [(c.low, c.us_per_message) for c in costs] == [
        (0, pytest.approx(400.0)),
        (10_000, pytest.approx(100.0)),
        (100_000, pytest.approx(200.0)),
    ]
    assert claim_cost_spread(costs) == pytest.approx(4.0)
    assert claim_cost_spread(costs, from_backlog=10_000) == pytest.approx(2.0)


def test_a_band_with_too_few_claimed_messages_says_nothing():
    samples = [_sample(0, 500), _sample(1, 400, claims=1, seconds=0.1, claimed=10)]
    assert claim_cost_by_backlog(samples, min_claimed=1000) == []
    assert claim_cost_spread([]) is None


EXPOSITION = """# HELP disparo_dispatcher_claim_seconds Duration of one claim statement.
# TYPE disparo_dispatcher_claim_seconds histogram
disparo_dispatcher_claim_seconds_bucket{{le="0.01"}} 1.0
disparo_dispatcher_claim_seconds_bucket{{le="+Inf"}} {claims}
disparo_dispatcher_claim_seconds_count {claims}
disparo_dispatcher_claim_seconds_sum {seconds}
# HELP disparo_dispatcher_claimed_total Messages claimed by this replica.
# TYPE disparo_dispatcher_claimed_total counter
disparo_dispatcher_claimed_total {claimed}
# HELP disparo_event_loop_lag_seconds How late the loop woke.
# TYPE disparo_event_loop_lag_seconds histogram
disparo_event_loop_lag_seconds_bucket{{le="0.05",service="dispatcher"}} {on_time}
disparo_event_loop_lag_seconds_bucket{{le="0.1",service="dispatcher"}} {on_time}
disparo_event_loop_lag_seconds_bucket{{le="+Inf",service="dispatcher"}} {lags}
disparo_event_loop_lag_seconds_count{{service="dispatcher"}} {lags}
disparo_event_loop_lag_seconds_sum{{service="dispatcher"}} {lag}
"""


def _exposition(claims, seconds, claimed, lags=0, lag=0.0, on_time=0):
    return EXPOSITION.format(
        claims=claims, seconds=seconds, claimed=claimed, lags=lags, lag=lag, on_time=on_time
    )


def test_the_counters_are_read_from_a_replicas_metrics():
    assert read_claim_counters(_exposition(3, 0.5, 1200, lags=10, lag=0.75, on_time=8)) == {
        "claims": 3.0,
        "claim_seconds": 0.5,
        "claimed": 1200.0,
        "lag_samples": 10.0,
        "lag_seconds": 0.75,
        "lag_on_time": 8.0,  # the 0.1 s bucket, not the 0.05 one
    }


def test_a_restarted_replica_keeps_what_it_had_counted_before():
    counters = ClaimCounters()
    counters.fold("dispatcher-1", _exposition(10, 1.0, 4000))
    counters.fold("dispatcher-2", _exposition(5, 0.5, 2000))
    counters.fold("dispatcher-1", _exposition(2, 0.25, 800))  # killed and restarted from zero
    assert counters.totals() == {
        "claims": 17.0,
        "claim_seconds": 1.75,
        "claimed": 6800.0,
        "lag_samples": 0.0,
        "lag_seconds": 0.0,
        "lag_on_time": 0.0,
    }


URGENT_INTAKE = """# HELP disparo_dispatcher_intake_wait_seconds From storage to handler.
# TYPE disparo_dispatcher_intake_wait_seconds histogram
disparo_dispatcher_intake_wait_seconds_bucket{consumer="urgent",le="0.1"} 90.0
disparo_dispatcher_intake_wait_seconds_bucket{consumer="urgent",le="0.5"} 99.0
disparo_dispatcher_intake_wait_seconds_bucket{consumer="urgent",le="1.0"} 100.0
disparo_dispatcher_intake_wait_seconds_bucket{consumer="urgent",le="+Inf"} 100.0
disparo_dispatcher_intake_wait_seconds_bucket{consumer="requests",le="0.1"} 0.0
disparo_dispatcher_intake_wait_seconds_bucket{consumer="requests",le="0.5"} 0.0
disparo_dispatcher_intake_wait_seconds_bucket{consumer="requests",le="1.0"} 0.0
disparo_dispatcher_intake_wait_seconds_bucket{consumer="requests",le="+Inf"} 7.0
"""


def test_the_urgent_intake_quantiles_are_the_bounds_of_the_buckets_holding_them():
    counters = ClaimCounters()
    counters.fold("dispatcher-1", URGENT_INTAKE)
    totals = counters.totals()
    assert bucket_quantile(totals, "wait", 0.5) == 0.1
    assert bucket_quantile(totals, "wait", 0.99) == 0.5  # the requests' slow 7 not counted
    assert bucket_quantile(totals, "wait", 1.0) == 1.0
    assert bucket_quantile(totals, "handler", 0.99) is None  # nothing observed


def test_the_loop_lag_is_split_at_the_intakes_end():
    def at(seconds, samples, lag, on_time):
        return QueueSample(seconds, 0, 0, 0, 0, 0.0, 0, samples, lag, on_time)

    samples = [at(0, 0, 0.0, 0), at(10, 100, 20.0, 40), at(20, 200, 21.0, 140)]
    during, after = loop_lag_around(samples, split_at=10.0)
    assert during == LoopLag(mean_ms=200.0, late_share=0.6)  # 100 samples, 20 s, 40 on time
    assert after == LoopLag(mean_ms=10.0, late_share=0.0)
    assert loop_lag_around(samples, split_at=None) == (None, None)
