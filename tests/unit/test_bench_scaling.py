"""The replica-scaling figures: each replica's share of senders and sends, and their evenness."""

from types import SimpleNamespace

from disparo.bench.report import replica_shares
from disparo.bench.scaling import _row


def test_each_replica_share_of_senders_and_sends_is_keyed_by_its_number():
    evidence = SimpleNamespace(
        claimed_by_replica={"dispatcher-1": 600.0, "dispatcher-2": 400.0},
        senders_by_replica={"bench-1": 30.0, "bench-2": 20.0},
    )
    assert replica_shares(evidence) == {
        "1": {"senders_held": 30.0, "share_of_senders": 0.6, "claimed": 600, "share_of_sends": 0.6},
        "2": {"senders_held": 20.0, "share_of_senders": 0.4, "claimed": 400, "share_of_sends": 0.4},
    }


def test_the_busiest_replica_over_an_even_share_measures_evenness():
    shares = {
        "1": {"senders_held": 17.0, "share_of_sends": 0.34},
        "2": {"senders_held": 17.0, "share_of_sends": 0.34},
        "3": {"senders_held": 16.0, "share_of_sends": 0.32},
    }
    summary = {
        "scenario": {"replicas": 3},
        "throughput": {"per_second": 350.0, "fraction_of_allowed": 0.09},
        "cpu": {"dispatcher": {"per_1000_messages": 0.99}},
        "replica_shares": shares,
        "load_average": [16.7, 13.6, 12.8],
        "passed": True,
    }
    row = _row(summary)
    assert row["busiest_over_even"] == 1.02
    assert row["senders_held_min_max"] == [16.0, 17.0]
