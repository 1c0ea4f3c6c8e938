"""The benchmark's arithmetic: windows, percentiles, urgent latency and message outcomes."""

from disparo.bench.analysis import (
    Send,
    outcomes,
    peak_per_sender,
    peak_per_window,
    percentile,
    sending_during_intake,
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


def test_sending_during_the_intake_is_set_against_sending_after_it():
    during = [Send(f"d{i}", "s", i / 100) for i in range(2001)]  # 0–20 s, 100/s
    after = [Send(f"a{i}", "s", 20 + (i + 1) / 250) for i in range(5000)]  # 20–40 s, 250/s
    share = sending_during_intake(during + after, ingested_at=20.0)
    assert round(share.during_per_second) == 100
    assert share.after_per_second == 250
    assert round(share.ratio, 2) == 0.4
    assert sending_during_intake(during, ingested_at=None).ratio is None
    assert sending_during_intake(during, ingested_at=30.0).after_per_second is None


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


def _evidence(**changes):
    from pathlib import Path

    from disparo.bench.run import BenchOptions, RunEvidence

    options = BenchOptions(
        messages=2, senders=1, rate_per_second=80, replicas=2, dialect="evolution",
        typing_indicator=False, urgent=1, webhooks=True, faults=True, kills=1,
        timeout_seconds=60, batch_size=1000, max_attempts=5, database_url=None, nats_url=None,
    )  # fmt: skip
    evidence = RunEvidence(
        options=options,
        dispatcher_env={},
        servers_embedded=True,
        campaign_ids={"c1", "c2"},
        urgent_published_at={"u1": 10.0},
        publish_seconds=0.1,
        ingest_seconds=0.5,
        drain_seconds=3.0,
        completed=True,
        kills_done=1,
        cpu_seconds={"dispatcher": 1.0},
        simulator_stats={"accepted": 2, "duplicates": 0, "violations": 0, "by_sender": {}},
        sends=[Send("c1", "s", 10.0), Send("u1", "s", 10.2)],
        permanent_ids={"c2"},
        queue_states={"c1": "sent", "c2": "dead", "u1": "sent"},
        dead_codes={"c2": "exists_false"},
        dead_reasons=[{"code": "exists_false", "messages": 1, "example": "not on WhatsApp"}],
        retried_and_sent={"messages": 0, "extra_attempts": 0},
        urgent_enqueued_at={"u1": 10.05},
        log_dir=Path("/tmp"),
        notes=[],
    )
    for name, value in changes.items():
        setattr(evidence, name, value)
    return evidence


def test_a_clean_run_with_faults_and_kills_passes_every_check_and_renders():
    import io

    from rich.console import Console

    from disparo.bench.report import render, summarize

    summary = summarize(_evidence())
    assert summary["passed"], summary["checks"]
    assert summary["urgent"]["p50_ms"] == 200.0
    assert summary["outcomes"]["dead_by_reason"] == {"exists_false": 1}
    out = io.StringIO()
    render(summary, Console(file=out, width=120))
    assert "all checks passed" in out.getvalue()


def test_a_message_sent_twice_fails_the_run():
    from disparo.bench.report import summarize

    sends = [Send("c1", "s", 10.0), Send("c1", "s", 11.0), Send("u1", "s", 10.2)]
    summary = summarize(_evidence(sends=sends))
    assert not summary["checks"]["none_sent_twice"]
    assert not summary["passed"]
