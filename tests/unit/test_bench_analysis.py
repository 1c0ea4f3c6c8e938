"""The benchmark's arithmetic: windows, percentiles, urgent latency and message outcomes."""

from disparo.bench.analysis import (
    Send,
    outcomes,
    peak_per_sender,
    peak_per_window,
    percentile,
    throughput,
    urgent_latency,
)
from disparo.bench.report import is_transient


def test_a_send_leaves_the_window_exactly_one_second_later():
    assert peak_per_window([0.0, 0.5, 1.0]) == 2
    assert peak_per_window([0.0, 0.5, 0.99]) == 3
    assert peak_per_window([]) == 0


def test_peaks_are_counted_per_sender():
    sends = [Send("a", "s1", 0.0), Send("b", "s1", 0.1), Send("c", "s2", 0.2)]
    assert peak_per_sender(sends) == {"s1": 2, "s2": 1}


def test_throughput_is_sends_over_first_to_last_and_its_share_of_the_allowed_rate():
    sends = [Send(str(i), "s", i / 100) for i in range(101)]  # 101 sends over 1 s
    result = throughput(sends, allowed_per_second=202)
    assert result.per_second == 101
    assert result.fraction_of_allowed == 0.5


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 201)]
    assert percentile(values, 0.99) == 198
    assert percentile(values, 0.50) == 100
    assert percentile([], 0.5) is None


def test_urgent_latency_counts_from_publish_to_first_accept_and_knows_the_backlog():
    published = {"u1": 10.0, "u2": 20.0}
    sends = [
        Send("u1", "s", 10.3),
        Send("c1", "s", 15.0),  # the backlog was still being sent after u1, not after u2
        Send("u2", "s", 20.1),
        Send("u1", "s", 30.0),  # a second send of u1 does not change its latency
    ]
    latency = urgent_latency(published, sends, backlog_ids={"c1"})
    assert latency.sent == 2
    assert latency.during_backlog == 1
    assert round(latency.max, 6) == 0.3


def test_outcomes_tell_sent_twice_dead_lost_and_unfinished_apart():
    sends = [Send("a", "s", 1), Send("b", "s", 2), Send("b", "s", 3), Send("x", "s", 4)]
    states = {"a": "sent", "b": "sent", "c": "dead", "d": "sent", "e": "queued"}
    result = outcomes(["a", "b", "c", "d", "e"], sends, states, {"c": "131026"})
    assert result.accepted == 2
    assert (result.sent_twice, result.extra_sends) == (1, 1)
    assert result.dead_by_reason == {"131026": 1}
    assert (result.lost, result.lost_states) == (1, {"sent": 1})
    assert result.unfinished == 1
    assert result.unknown_sends == 1


def test_dead_of_a_transient_error_means_its_retries_ran_out():
    assert is_transient("timeout") and is_transient("http_503") and is_transient("130429")
    assert not is_transient("131026") and not is_transient("exists_false")
    assert not is_transient(None)
