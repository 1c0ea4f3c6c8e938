"""A chaos round is stuck only when nothing moves for the stall time, however slow it is."""

from disparo.chaos.invariants import CampaignTruth, Evidence, QueuedMessage, SimSend
from disparo.chaos.progress import StallClock, fingerprint


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _evidence(sent: int, queued: int, outbox: int = 0, reported_sent: int = 0) -> Evidence:
    queue = {
        f"m{n}": QueuedMessage("campaign", "c1", f"+55{n}", "queued", False) for n in range(queued)
    }
    queue.update(
        {f"s{n}": QueuedMessage("campaign", "c1", f"+56{n}", "sent", False) for n in range(sent)}
    )
    return Evidence(
        sends=[SimSend(f"s{n}", "a", f"56{n}", float(n)) for n in range(sent)],
        queue=queue,
        campaigns=[CampaignTruth("c1", sent + queued, 0, {"sent": reported_sent})],
        rate_per_second=5,
        pair_spacing_seconds=6.0,
        refused_for_limits=0,
        max_followups_per_doctor=1,
        stuck={"outbox events": outbox},
    )


def test_a_slow_round_that_keeps_moving_is_never_stalled():
    clock = FakeClock()
    stall = StallClock(120.0, clock)
    for step in range(10):  # one send every 100 s: slow, far past any fixed deadline
        clock.now = step * 100.0
        stall.observe(fingerprint(_evidence(sent=step, queued=10 - step), replied=0))
        assert not stall.stalled
    assert clock.now == 900.0


def test_a_round_where_nothing_moves_is_stalled_after_the_stall_time():
    clock = FakeClock()
    stall = StallClock(120.0, clock)
    same = _evidence(sent=3, queued=7)
    for at in (0.0, 60.0, 120.0):
        clock.now = at
        stall.observe(fingerprint(same, replied=1))
        assert not stall.stalled
    clock.now = 121.0
    stall.observe(fingerprint(same, replied=1))
    assert stall.stalled


def test_each_watched_figure_counts_as_progress():
    base = fingerprint(_evidence(sent=3, queued=7, outbox=2, reported_sent=1), replied=1)
    assert base == fingerprint(_evidence(sent=3, queued=7, outbox=2, reported_sent=1), replied=1)
    assert base != fingerprint(_evidence(sent=3, queued=7, outbox=1, reported_sent=1), replied=1)
    assert base != fingerprint(_evidence(sent=3, queued=7, outbox=2, reported_sent=2), replied=1)
    assert base != fingerprint(_evidence(sent=3, queued=7, outbox=2, reported_sent=1), replied=2)
    assert base != fingerprint(_evidence(sent=4, queued=6, outbox=2, reported_sent=1), replied=1)
