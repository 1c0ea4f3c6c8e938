"""A slow periodic read slows its own refresh, never the claims it shares Postgres with."""

import pytest

from disparo_dispatcher.worker import GAUGE_MAX_SHARE, pause_after


def test_a_quick_tick_keeps_its_period():
    assert pause_after(5.0, 0.01, GAUGE_MAX_SHARE) == 5.0


def test_a_slow_tick_waits_until_it_is_within_its_share():
    pause = pause_after(5.0, 0.6, 0.05)
    assert pause == pytest.approx(11.4)
    assert 0.6 / (0.6 + pause) == pytest.approx(0.05)


def test_a_full_share_is_the_plain_period():
    assert pause_after(5.0, 3.0, 1.0) == 5.0
