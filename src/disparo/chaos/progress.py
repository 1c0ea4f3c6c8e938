"""When a chaos round is stuck rather than slow: a deadline that moves with progress (pure).

On a loaded machine every step of a round takes longer — the same 20-doctor run took 37 s alone
and 242 s at load average 13 on the shared 2-core machine — so a fixed wall-clock deadline fails
a healthy run that is merely slow. A round is called stuck only when nothing it watches has
changed for ``stall_seconds``: sends the simulator accepted, the queue's states, what is left in
outboxes and consumers, the campaign reports, the doctors who wrote back.

Worked example, ``stall_seconds`` 120: sends arrive at t = 0, 50, 100 and 200 s (a loaded
machine), then nothing: the round is not stuck at t = 300 (100 s since the last change) and is
at t = 321.
"""

import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from disparo.chaos.invariants import Evidence


def fingerprint(evidence: Evidence, replied: int) -> Hashable:
    """What changes whenever a round moves on: equal fingerprints mean no progress."""
    states = Counter(m.state for m in evidence.queue.values())
    held = sum(1 for m in evidence.queue.values() if m.held_in_doubt)
    return (
        len(evidence.sends),
        tuple(sorted(states.items())),
        held,
        tuple(sorted(evidence.stuck.items())),
        tuple((c.campaign_id, tuple(sorted(c.reported.items()))) for c in evidence.campaigns),
        replied,
    )


@dataclass
class StallClock:
    """``observe`` each poll's fingerprint; ``stalled`` once it has not changed for
    ``stall_seconds``."""

    stall_seconds: float
    clock: Callable[[], float] = time.monotonic
    _seen: Hashable = None
    _changed_at: float = field(init=False)

    def __post_init__(self) -> None:
        self._changed_at = self.clock()

    def observe(self, seen: Hashable) -> None:
        if seen != self._seen:
            self._seen = seen
            self._changed_at = self.clock()

    @property
    def idle_seconds(self) -> float:
        return self.clock() - self._changed_at

    @property
    def stalled(self) -> bool:
        return self.idle_seconds > self.stall_seconds
