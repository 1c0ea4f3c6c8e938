"""How often ``disparo bench campaigns`` counts the queue: rarely while far from done, every
0.5 s near the end."""

from disparo.bench.campaigns_run import poll_pause


def test_first_count_waits_the_resolution():
    assert poll_pause(None, (10.0, 0), 1_000_000) == 0.5


def test_far_from_done_waits_at_most_three_seconds():
    assert poll_pause((0.0, 0), (1.0, 5_000), 1_000_000) == 3.0


def test_near_the_end_waits_the_resolution():
    assert poll_pause((0.0, 990_000), (1.0, 995_000), 1_000_000) == 0.5


def test_in_between_waits_a_third_of_the_time_left():
    assert poll_pause((0.0, 0), (1.0, 1_000), 7_000) == 2.0


def test_no_progress_waits_the_resolution():
    assert poll_pause((0.0, 500), (1.0, 500), 1_000) == 0.5
