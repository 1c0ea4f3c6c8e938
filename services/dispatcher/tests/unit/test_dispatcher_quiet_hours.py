"""Quiet hours in the recipient's zone, with explicit instants (no clock, no sleep)."""

from datetime import UTC, datetime, time

from disparo_dispatcher.quiet_hours import (
    SendWindow,
    local_day_start,
    next_day_start,
    next_send_time,
    recipient_time_zone,
)

WINDOW = SendWindow(time(8), time(20), frozenset(range(6)))  # Monday–Saturday
SP = "America/Sao_Paulo"


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(UTC)


def test_inside_the_window_sends_now():
    now = at("2026-11-25T10:00:00-03:00")  # Wednesday
    assert next_send_time(now, SP, WINDOW) == now


def test_before_opening_waits_for_eight_local():
    now = at("2026-11-25T06:30:00-03:00")
    assert next_send_time(now, SP, WINDOW) == at("2026-11-25T08:00:00-03:00")


def test_after_closing_waits_for_next_morning():
    now = at("2026-11-25T20:00:00-03:00")
    assert next_send_time(now, SP, WINDOW) == at("2026-11-26T08:00:00-03:00")


def test_saturday_evening_waits_until_monday():
    now = at("2026-11-28T21:00:00-03:00")  # Saturday
    assert next_send_time(now, SP, WINDOW) == at("2026-11-30T08:00:00-03:00")


def test_sunday_is_closed_all_day():
    now = at("2026-11-29T11:00:00-03:00")
    assert next_send_time(now, SP, WINDOW) == at("2026-11-30T08:00:00-03:00")


def test_manaus_opens_an_hour_after_sao_paulo():
    now = at("2026-11-25T08:30:00-03:00")  # 07:30 in Manaus
    assert next_send_time(now, "America/Manaus", WINDOW) == at("2026-11-25T08:00:00-04:00")


def test_zone_comes_from_the_brazilian_area_code():
    assert recipient_time_zone("+5592991234567", SP) == "America/Manaus"
    assert recipient_time_zone("+5511987654321", "UTC") == SP
    assert recipient_time_zone("+14155550100", SP) == SP


def test_day_boundaries_are_local_midnights():
    now = at("2026-11-25T23:30:00-03:00")
    assert local_day_start(now, SP) == at("2026-11-25T00:00:00-03:00")
    assert next_day_start(now, SP) == at("2026-11-26T00:00:00-03:00")
