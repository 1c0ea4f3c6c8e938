"""Unit tests of the per-number rate and pair spacing, on a hand-moved clock."""

from disparo_simulator.limits import SendLimits
from disparo_simulator.outcomes import Verdict


def fill(limits: SendLimits, sender: str, count: int, start: float, step: float) -> float:
    """Record ``count`` sends to distinct recipients, ``step`` seconds apart; return last time."""
    now = start
    for index in range(count):
        now = start + index * step
        assert limits.check(sender, f"55119{index:08d}", now).verdict is Verdict.ACCEPTED
        limits.record(sender, f"55119{index:08d}", now)
    return now


def test_sends_up_to_the_rate_within_one_second_pass():
    limits = SendLimits(rate_per_second=80, pair_spacing_seconds=6.0)
    fill(limits, "n1", 80, start=0.0, step=0.01)


def test_send_beyond_the_rate_in_the_window_is_throttled_with_retry_after():
    limits = SendLimits(rate_per_second=80, pair_spacing_seconds=6.0)
    fill(limits, "n1", 80, start=0.0, step=0.01)

    check = limits.check("n1", "5511900000999", 0.99)

    assert check.verdict is Verdict.THROTTLED
    assert check.retry_after_seconds == 1


def test_window_slides_so_capacity_returns_as_old_sends_leave_it():
    limits = SendLimits(rate_per_second=80, pair_spacing_seconds=6.0)
    fill(limits, "n1", 80, start=0.0, step=0.01)

    # the first send (t=0.00) leaves the half-open window (t-1, t] exactly at t=1.00
    assert limits.check("n1", "5511900000999", 1.0).verdict is Verdict.ACCEPTED


def test_rate_is_counted_per_sending_number():
    limits = SendLimits(rate_per_second=2, pair_spacing_seconds=0.0)
    fill(limits, "n1", 2, start=0.0, step=0.0)

    assert limits.check("n1", "5511900000999", 0.0).verdict is Verdict.THROTTLED
    assert limits.check("n2", "5511900000999", 0.0).verdict is Verdict.ACCEPTED


def test_same_pair_within_spacing_is_pair_limited_until_the_spacing_passes():
    limits = SendLimits(rate_per_second=80, pair_spacing_seconds=6.0)
    limits.record("n1", "5511987654321", 10.0)

    too_soon = limits.check("n1", "5511987654321", 14.5)
    after_spacing = limits.check("n1", "5511987654321", 16.0)

    assert too_soon.verdict is Verdict.PAIR_LIMITED
    assert too_soon.retry_after_seconds == 2
    assert after_spacing.verdict is Verdict.ACCEPTED


def test_pair_spacing_is_per_sender_and_recipient():
    limits = SendLimits(rate_per_second=80, pair_spacing_seconds=6.0)
    limits.record("n1", "5511987654321", 10.0)

    assert limits.check("n2", "5511987654321", 10.0).verdict is Verdict.ACCEPTED
    assert limits.check("n1", "5511987654322", 10.0).verdict is Verdict.ACCEPTED


def test_record_returns_the_count_in_the_window_ending_now():
    limits = SendLimits(rate_per_second=80, pair_spacing_seconds=0.0)

    counts = [limits.record("n1", f"r{index}", at) for index, at in enumerate([0, 0.5, 0.9, 1.6])]

    # at t=1.6 the sends at 0 and 0.5 have left the window; 0.9 and 1.6 remain
    assert counts == [1, 2, 3, 2]


def test_lowering_the_rate_at_runtime_throttles_until_enough_sends_leave():
    limits = SendLimits(rate_per_second=10, pair_spacing_seconds=0.0)
    fill(limits, "n1", 10, start=0.0, step=0.05)
    limits.rate_per_second = 5

    assert limits.check("n1", "x", 0.6).verdict is Verdict.THROTTLED
    # sends at 0.00 … 0.25 (six of them) must leave before a sixth slot frees: after t=1.25
    assert limits.check("n1", "x", 1.26).verdict is Verdict.ACCEPTED


def test_reset_forgets_every_past_send():
    limits = SendLimits(rate_per_second=1, pair_spacing_seconds=6.0)
    limits.record("n1", "5511987654321", 0.0)
    limits.reset()

    assert limits.check("n1", "5511987654321", 0.0).verdict is Verdict.ACCEPTED
