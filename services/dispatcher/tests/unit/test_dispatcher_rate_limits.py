"""Per-sender, per-recipient and per-day limits, driven by a hand-moved clock."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from disparo_dispatcher.rate_limits import (
    SendRateLimiter,
    daily_cap,
    pair_ready_at,
    recipient_campaign_room,
    sender_weight,
    warmup_cap,
)


def test_rate_limiter_allows_rate_sends_then_waits_for_the_oldest_answer_to_age():
    limiter = SendRateLimiter(rate=3)
    for t in (0.0, 0.34, 0.68):  # paced 1/3 s apart
        assert limiter.delay(t) == pytest.approx(0.0)
        limiter.started(t)
        limiter.finished(t + 0.05)
    # Answered at 0.05, 0.39, 0.73: the fourth may start when the first answer is a second old.
    assert limiter.delay(0.9) == pytest.approx(0.15)
    assert limiter.delay(1.05) == pytest.approx(0.0)


def test_sends_in_flight_hold_the_window_until_answered():
    limiter = SendRateLimiter(rate=2)
    limiter.started(0.0)
    limiter.started(0.5)
    assert limiter.delay(5.0) is None  # both still unanswered: nothing is known to have aged
    limiter.finished(5.0)
    assert limiter.delay(5.1) == pytest.approx(0.9)


def test_no_sliding_second_at_the_provider_exceeds_the_rate_whatever_the_latencies():
    """Simulate random latencies and acceptance instants; count acceptances in every window."""
    rng = random.Random(7)
    rate = 10
    limiter = SendRateLimiter(rate=rate, jitter=0.3, rng=random.Random(1))
    now, in_flight, accepted = 0.0, [], []
    while now < 20.0:
        for request in [r for r in in_flight if r[1] <= now]:
            in_flight.remove(request)
            limiter.finished(request[1])
        delay = limiter.delay(now)
        if delay == 0.0:
            latency = rng.uniform(0.001, 0.3)
            accepted.append(now + rng.uniform(0.0, latency))  # the provider accepts mid-flight
            in_flight.append((now, now + latency))
            limiter.started(now)
        now += 0.001
    accepted.sort()
    worst = max(sum(1 for a in accepted if start <= a < start + 1.0) for start in accepted)
    assert worst <= rate
    assert len(accepted) > 20 * rate * 0.7  # and it still sends close to the rate


def test_paced_starts_are_about_one_over_rate_apart():
    limiter = SendRateLimiter(rate=80, jitter=0.3, rng=random.Random(3))
    limiter.started(0.0)
    gap = limiter.delay(0.0)
    assert 0.75 / 80 <= gap <= 1.3 / 80


def test_a_new_holder_waits_one_second_before_its_first_send():
    limiter = SendRateLimiter(rate=80, not_before=11.0)
    assert limiter.delay(10.0) == pytest.approx(1.0)
    assert limiter.delay(11.0) == pytest.approx(0.0)


def test_warmup_ramp_grows_by_day_then_ends():
    caps = [50, 50, 100]
    start = date(2026, 11, 23)
    assert warmup_cap(start, date(2026, 11, 23), caps) == 50
    assert warmup_cap(start, date(2026, 11, 24), caps) == 50
    assert warmup_cap(start, date(2026, 11, 25), caps) == 100
    assert warmup_cap(start, date(2026, 11, 26), caps) is None
    assert warmup_cap(None, date(2026, 11, 26), caps) is None


def test_daily_cap_is_the_tighter_of_limit_and_ramp():
    caps = [50, 100]
    day1 = date(2026, 11, 23)
    assert daily_cap(80, day1, day1, caps) == 50
    assert daily_cap(30, day1, day1, caps) == 30
    assert daily_cap(None, day1, day1 + timedelta(days=5), caps) is None
    assert daily_cap(1000, None, day1, caps) == 1000


def test_warming_sender_weighs_far_less_than_a_mature_one():
    assert sender_weight(80, 50) == 50
    assert sender_weight(80, None) == 80 * 86_400


def test_pair_spacing_counts_from_the_last_answer():
    last = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert pair_ready_at(last, 6.0) == last + timedelta(seconds=6)
    assert pair_ready_at(None, 6.0) is None


def test_recipient_campaign_room_resets_with_the_day():
    today = date(2026, 11, 25)
    assert recipient_campaign_room(today, 2, today, 2) == 0
    assert recipient_campaign_room(today, 1, today, 2) == 1
    assert recipient_campaign_room(today - timedelta(days=1), 2, today, 2) == 2
