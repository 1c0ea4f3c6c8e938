"""How long the "typing…" indicator shows before a text, sized to the text like a person would.

A person types a short "Oi, Dra. Ana!" in about a second and a three-line offer in several;
showing "typing…" for the same fixed time before every message is a pattern WhatsApp's spam
signals can pick up. The duration grows with the text and is bounded, then varied by a random
factor so no two sends look machine-timed.

With the defaults (``base_ms=600``, ``ms_per_char=30``, ``min_ms=800``, ``max_ms=6000``,
``jitter=0.25``): a 20-character text gives 600 + 20·30 = 1200 ms, shown as something between
900 and 1500 ms; a 400-character text reaches the 6000 ms cap (4500–6000 ms after jitter, the
cap holds). The RNG is injected so tests are exact and production draws from ``random.Random()``.
"""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class TypingPolicy:
    """Parameters of the typing-indicator duration, all in milliseconds except ``jitter``."""

    base_ms: int = 600  # reaction time before the first key
    ms_per_char: int = 30  # ≈ 33 characters/s: a fast phone typist
    min_ms: int = 800
    max_ms: int = 6000  # long texts look pasted; waiting longer only slows the queue
    jitter: float = 0.25  # ± share of the duration drawn uniformly

    def __post_init__(self) -> None:
        if not 0 <= self.min_ms <= self.max_ms:
            raise ValueError("typing bounds must satisfy 0 <= min_ms <= max_ms")
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError("typing jitter must be in [0, 1)")
        if self.base_ms < 0 or self.ms_per_char < 0:
            raise ValueError("typing base_ms and ms_per_char must not be negative")


DEFAULT_POLICY = TypingPolicy()


def typing_duration_ms(text: str, rng: random.Random, policy: TypingPolicy = DEFAULT_POLICY) -> int:
    """Milliseconds of "typing…" before ``text``, within [min_ms, max_ms] whatever the draw."""
    nominal = policy.base_ms + policy.ms_per_char * len(text)
    bounded = min(max(nominal, policy.min_ms), policy.max_ms)
    factor = 1.0 + rng.uniform(-policy.jitter, policy.jitter)
    return int(min(max(round(bounded * factor), policy.min_ms), policy.max_ms))
