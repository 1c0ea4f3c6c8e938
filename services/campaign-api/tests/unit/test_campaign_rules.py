"""The campaign lifecycle table, the per-day spread of not_before, and the send-time estimate."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from disparo_campaign_api.campaigns.rules import (
    Command,
    DailySpread,
    IllegalTransition,
    SendWindow,
    State,
    decide,
)
from disparo_campaign_api.segments.capacity import estimate_send_seconds

SP = ZoneInfo("America/Sao_Paulo")


@pytest.mark.parametrize(
    ("command", "state", "to"),
    [
        (Command.SCHEDULE, State.DRAFT, State.SCHEDULED),
        (Command.SCHEDULE, State.SCHEDULED, State.SCHEDULED),
        (Command.START, State.DRAFT, State.RUNNING),
        (Command.START, State.SCHEDULED, State.RUNNING),
        (Command.PAUSE, State.RUNNING, State.PAUSED),
        (Command.RESUME, State.PAUSED, State.RUNNING),
        (Command.CANCEL, State.PAUSED, State.CANCELLED),
        (Command.COMPLETE, State.RUNNING, State.COMPLETED),
    ],
)
def test_allowed_moves(command, state, to):
    move = decide(command, state)
    assert move.to is to and move.changed


@pytest.mark.parametrize(
    ("command", "state"),
    [
        (Command.START, State.RUNNING),
        (Command.START, State.PAUSED),
        (Command.PAUSE, State.PAUSED),
        (Command.RESUME, State.RUNNING),
        (Command.CANCEL, State.CANCELLED),
    ],
)
def test_repeated_commands_change_nothing(command, state):
    move = decide(command, state)
    assert move.to is state and not move.changed


@pytest.mark.parametrize(
    ("command", "state"),
    [
        (Command.PAUSE, State.DRAFT),
        (Command.START, State.CANCELLED),
        (Command.RESUME, State.COMPLETED),
        (Command.EDIT, State.SCHEDULED),
        (Command.EDIT, State.RUNNING),
        (Command.SCHEDULE, State.RUNNING),
        (Command.CANCEL, State.COMPLETED),
        (Command.COMPLETE, State.PAUSED),
    ],
)
def test_illegal_moves_raise(command, state):
    with pytest.raises(IllegalTransition, match=f"cannot {command.value}"):
        decide(command, state)


WEEKDAYS_9_TO_18 = SendWindow(start_hour=9, end_hour=18, days=(1, 2, 3, 4, 5), zone=SP)


def test_next_opening_moves_into_the_window():
    friday = datetime(2026, 11, 27, 10, tzinfo=SP)
    assert WEEKDAYS_9_TO_18.next_opening(friday) == friday
    assert WEEKDAYS_9_TO_18.next_opening(friday.replace(hour=7)) == friday.replace(hour=9)
    assert WEEKDAYS_9_TO_18.next_opening(friday.replace(hour=18)) == datetime(
        2026, 11, 30, 9, tzinfo=SP
    )
    assert SendWindow(zone=SP).next_opening(friday) == friday  # default window: always open


def test_max_per_day_spreads_recipients_over_window_days():
    friday = datetime(2026, 11, 27, 10, tzinfo=SP)
    spread = DailySpread(friday, WEEKDAYS_9_TO_18, max_per_day=300)
    assert spread.not_before(1) == spread.not_before(300) == friday
    assert spread.not_before(301) == spread.not_before(600) == datetime(2026, 11, 30, 9, tzinfo=SP)
    assert spread.not_before(601) == datetime(2026, 12, 1, 9, tzinfo=SP)
    assert spread.not_before(1801) == datetime(2026, 12, 7, 9, tzinfo=SP)  # day 6: next Monday
    # far days are computed directly: day 1,000 is 200 weeks on, still a weekday at 09:00
    far = spread.not_before(300_001)
    assert far.isoweekday() in (1, 2, 3, 4, 5) and far.hour == 9


def test_without_max_per_day_everyone_is_due_at_once():
    start = datetime(2026, 11, 27, 10, tzinfo=SP)
    spread = DailySpread(start, WEEKDAYS_9_TO_18, max_per_day=None)
    assert spread.not_before(1) == spread.not_before(1_000_000) == start


def test_estimate_of_send_time():
    assert estimate_send_seconds(0, 80) == 0
    assert estimate_send_seconds(1000, 80) == 13
    assert estimate_send_seconds(1000, 80, max_per_day=300) == 3 * 86_400 + 2
    assert estimate_send_seconds(1_000_000, 4000) == 250
