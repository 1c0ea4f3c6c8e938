"""Backoff with full jitter and the verdict for each failure class."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from disparo_dispatcher.providers.base import FailureClass, Rejected
from disparo_dispatcher.retry_policy import RetrySchedule, judge_rejection

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
SCHEDULE = RetrySchedule(base_seconds=5, max_seconds=60)


def judge(failure, attempt=1, max_attempts=5, retry_after=None, seed=1, **cloud):
    rejected = Rejected(failure, "code", "detail", retry_after)
    return judge_rejection(
        rejected, attempt, max_attempts, NOW, SCHEDULE, random.Random(seed), 6.0, **cloud
    )


def test_ceiling_doubles_from_base_and_stops_at_max():
    assert [SCHEDULE.ceiling(n) for n in (1, 2, 3, 4, 5, 6)] == [5, 10, 20, 40, 60, 60]


def test_full_jitter_draws_between_zero_and_the_ceiling():
    rng = random.Random(42)
    draws = [SCHEDULE.delay(3, rng) for _ in range(500)]
    assert 0 <= min(draws) < 2 and 18 < max(draws) <= 20


def test_retry_after_is_a_floor():
    assert SCHEDULE.delay(1, random.Random(0), retry_after=30) == 30


def test_transient_failure_is_retried_later_and_costs_the_attempt():
    verdict = judge(FailureClass.TRANSIENT, attempt=2)
    assert verdict.state == "queued" and verdict.costs_attempt and verdict.retryable
    assert NOW <= verdict.due_at <= NOW + timedelta(seconds=10)


def test_transient_failure_on_the_last_attempt_is_dead():
    verdict = judge(FailureClass.TRANSIENT, attempt=5, max_attempts=5)
    assert verdict.state == "dead" and not verdict.retryable and verdict.publish_failure


def test_pair_rate_limit_waits_the_spacing_for_free():
    verdict = judge(FailureClass.PAIR_RATE_LIMITED, retry_after=2)
    assert verdict.state == "queued" and not verdict.costs_attempt and not verdict.publish_failure
    assert verdict.due_at == NOW + timedelta(seconds=6)


def test_pause_sender_requeues_for_free_and_pauses():
    verdict = judge(FailureClass.PAUSE_SENDER)
    assert verdict.pause_sender and not verdict.costs_attempt and verdict.state == "queued"


def test_permanent_failures_are_dead_at_once():
    verdict = judge(FailureClass.PERMANENT, attempt=1)
    assert verdict.state == "dead" and not verdict.retryable


def test_window_closed_before_the_send_goes_again_as_the_template_at_once_for_free():
    verdict = judge(FailureClass.NEEDS_TEMPLATE, attempt=3, max_attempts=3, has_template=True)
    assert verdict.state == "queued" and verdict.due_at == NOW
    assert not verdict.costs_attempt and verdict.close_window and not verdict.publish_failure


@pytest.mark.parametrize("sent_as_template", [False, True])
def test_window_closed_without_a_template_holds_the_message_visibly(sent_as_template):
    verdict = judge(
        FailureClass.NEEDS_TEMPLATE,
        has_template=sent_as_template,
        sent_as_template=sent_as_template,
    )
    assert verdict.state == "held" and verdict.retryable and verdict.publish_failure
    assert not verdict.costs_attempt and verdict.close_window


def test_marketing_limit_waits_a_day_twice_then_the_message_is_dead():
    first = judge(FailureClass.MARKETING_LIMITED, marketing_put_offs=0)
    second = judge(FailureClass.MARKETING_LIMITED, marketing_put_offs=1)
    third = judge(FailureClass.MARKETING_LIMITED, marketing_put_offs=2)
    for put_off in (first, second):
        assert put_off.state == "queued" and put_off.due_at == NOW + timedelta(hours=24)
        assert put_off.marketing_put_off and not put_off.costs_attempt and put_off.publish_failure
    assert third.state == "dead" and not third.retryable and not third.marketing_put_off


def test_stopped_template_kills_the_message_and_stops_the_template():
    verdict = judge(FailureClass.TEMPLATE_STOPPED)
    assert verdict.state == "dead" and verdict.stop_template


def test_opted_out_is_dead_and_flags_the_contact():
    verdict = judge(FailureClass.OPTED_OUT)
    assert verdict.state == "dead" and verdict.opted_out
