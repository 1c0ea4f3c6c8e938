"""Numbers, percentages, dates and durations the Brazilian way."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from disparo_console import formatting

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def test_thousands_take_a_dot_and_decimals_a_comma():
    assert formatting.number(1240) == "1.240"
    assert formatting.number(1_000_000) == "1.000.000"
    assert formatting.number(1234.5) == "1.234,5"
    assert formatting.number(None) == "—"


def test_percent_has_one_decimal_with_a_comma():
    assert formatting.percent(0.1234) == "12,3%"
    assert formatting.percent(None) == "—"


def test_dates_are_shown_in_sao_paulo_time():
    assert (
        formatting.date_time(datetime(2026, 12, 4, 17, 5, tzinfo=UTC), SAO_PAULO)
        == "04/12/2026 14:05"
    )
    assert formatting.date_time("2026-12-04T02:30:00+00:00", SAO_PAULO) == "03/12/2026 23:30"


def test_durations_read_as_days_hours_minutes():
    assert formatting.duration(7800) == "2 h 10 min"
    assert formatting.duration(30) == "< 1 min"
    assert formatting.duration(90000) == "1 d 1 h"
