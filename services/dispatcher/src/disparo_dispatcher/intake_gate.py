"""How many campaign events the intake persists at once.

The intake shares the process and Postgres with sending, and only has to stay ahead of it.
While this replica sends, one event at a time leaves sending its pace (a million messages on
the 2-core benchmark machine: sending kept 81-89% of its rate during the intake, 76% with two
at once); while it sends nothing, ``idle_concurrency`` at once fill the queue sooner (a million
persisted in 60 s with two). Urgent replies never wait here: they have a consumer of their own.
Resting between events while the queue is ahead of sending was measured and made whole runs
slower (README, "A million messages").
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable


class IntakeGate:
    def __init__(self, idle_concurrency: int, sending: Callable[[], bool]) -> None:
        self._idle_concurrency = idle_concurrency
        self._sending = sending
        self._running = 0
        self._changed = asyncio.Condition()

    def allowed(self) -> int:
        return 1 if self._sending() else self._idle_concurrency

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait until one more event may be persisted; hold that place until done."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._running < self.allowed())
            self._running += 1
        try:
            yield
        finally:
            async with self._changed:
                self._running -= 1
                self._changed.notify_all()
