"""The typing indicator grows with the text, stays within bounds, and varies between sends."""

import random

import pytest

from disparo_dispatcher.providers.typing_indicator import TypingPolicy, typing_duration_ms


class FixedDraw(random.Random):
    """An RNG whose ``uniform`` always returns one end of the range (or its middle)."""

    def __init__(self, where: str) -> None:
        super().__init__(0)
        self.where = where

    def uniform(self, a: float, b: float) -> float:
        return {"low": a, "mid": (a + b) / 2, "high": b}[self.where]


def test_duration_grows_with_the_text_without_jitter():
    middle = FixedDraw("mid")
    assert typing_duration_ms("Oi, Dra. Ana!!!!!!!!", middle) == 600 + 20 * 30
    assert typing_duration_ms("x" * 100, middle) == 600 + 100 * 30


def test_duration_is_bounded_whatever_the_text_and_draw():
    policy = TypingPolicy()
    assert typing_duration_ms("", FixedDraw("low")) == policy.min_ms
    assert typing_duration_ms("x" * 4000, FixedDraw("high")) == policy.max_ms
    rng = random.Random(7)
    for length in range(0, 600, 7):
        assert policy.min_ms <= typing_duration_ms("x" * length, rng) <= policy.max_ms


def test_jitter_varies_the_duration_within_its_share():
    assert typing_duration_ms("x" * 20, FixedDraw("low")) == 900  # 1200 × 0.75
    assert typing_duration_ms("x" * 20, FixedDraw("high")) == 1500  # 1200 × 1.25
    seen = {typing_duration_ms("x" * 20, random.Random(seed)) for seed in range(20)}
    assert len(seen) > 10


def test_a_seeded_rng_replays_the_same_durations():
    assert [typing_duration_ms("abc" * 9, random.Random(3)) for _ in range(3)] == [
        typing_duration_ms("abc" * 9, random.Random(3)) for _ in range(3)
    ]


@pytest.mark.parametrize("bad", [{"min_ms": 10, "max_ms": 5}, {"jitter": 1.0}, {"ms_per_char": -1}])
def test_nonsense_policies_are_refused(bad):
    with pytest.raises(ValueError):
        TypingPolicy(**bad)
