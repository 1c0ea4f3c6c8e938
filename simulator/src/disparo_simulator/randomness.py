"""Seedable random streams, one per concern, so a seeded run replays exactly.

Each concern (faults, the recipient's behaviour, id generation) draws from its own stream: with
``seed=7`` the fault sequence is the same whether or not webhooks are configured, because
webhook draws never consume fault numbers.
"""

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class RandomStreams:
    """The simulator's random generators, reseeded together on reset."""

    seed: int | None = None
    faults: random.Random = field(default_factory=random.Random)
    recipients: random.Random = field(default_factory=random.Random)
    ids: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.reseed(self.seed)

    def reseed(self, seed: int | None) -> None:
        """Restart every stream from ``seed``; ``None`` draws fresh entropy."""
        self.seed = seed
        for name in ("faults", "recipients", "ids"):
            stream: random.Random = getattr(self, name)
            stream.seed(None if seed is None else f"{seed}:{name}")
