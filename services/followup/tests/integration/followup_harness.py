"""What followup's integration tests share: the start time, a clock the test moves, and the
shape of the publish fixture (``conftest.py`` has the fixtures)."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from disparo_shared.events import Event

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
Publish = Callable[[Event], Awaitable[None]]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
