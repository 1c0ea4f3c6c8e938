"""Gathers the events of one pull into one batch: a group commit of concurrent handlers.

A pull subscriber fetches up to ``batch_size`` events at once and runs one handler per event,
all at the same time, each acknowledging its event when it returns. Each handler hands its event
to the ``EventBatcher`` and waits: once no more events have arrived for one turn of the event
loop (every handler of the pull has had its turn by then), or the waiting events weigh
``max_size`` (``size_of``: one each unless told), the batch is applied in one call and every
handler learns the outcome together. So a pull of 500 events is one transaction, while each
event keeps its own handler, trace span and ack, and is acknowledged only after the batch that
holds it committed. A pull cut into several batches has them applied one after another, in
order, as consecutive pulls are: a subscription never holds two transactions at once.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from disparo_reporting.metrics import BATCH_FALLBACKS, BATCH_SIZE
from disparo_shared.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")


class BatchFailed(Exception):
    """The batch that held the event did not commit; apply the event alone."""


class EventBatcher(Generic[T]):
    """Joins concurrent ``submit`` calls into calls of ``apply_batch`` (items in arrival order),
    one call at a time.

    With ``max_size=5000`` and ``size_of`` an event's messages, a pull of 500 receipts (one
    message each) is one batch, and a pull of 20 sent batches of 1,000 is four batches of five.
    An item that alone weighs more is a batch of its own.
    """

    def __init__(
        self,
        apply_batch: Callable[[Sequence[T]], Awaitable[object]],
        max_size: int,
        size_of: Callable[[T], int] = lambda _: 1,
    ):
        self._apply_batch = apply_batch
        self._max_size = max_size
        self._size_of = size_of
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._waiting_size = 0
        self._seen_at_last_turn = 0
        self._turn_scheduled = False
        self._running: set[asyncio.Task[None]] = set()
        self._last_batch: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Return once the batch holding ``item`` committed; raise ``BatchFailed`` if it did not."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        size = self._size_of(item)
        if self._waiting_size + size > self._max_size:
            self._flush()  # the waiting ones go without it, under the cap
        self._waiting.append((item, done))
        self._waiting_size += size
        if self._waiting_size >= self._max_size:
            self._flush()
        elif not self._turn_scheduled:
            self._turn_scheduled = True
            self._seen_at_last_turn = len(self._waiting)
            loop.call_soon(self._after_turn)
        await done

    def _after_turn(self) -> None:
        """Flush once a whole turn of the loop brought no new item; else wait one more turn."""
        if len(self._waiting) > self._seen_at_last_turn:
            self._seen_at_last_turn = len(self._waiting)
            asyncio.get_running_loop().call_soon(self._after_turn)
            return
        self._turn_scheduled = False
        self._flush()

    def _flush(self) -> None:
        if not self._waiting:
            return
        batch, self._waiting = self._waiting, []
        self._waiting_size = self._seen_at_last_turn = 0
        task = asyncio.create_task(self._apply(batch, after=self._last_batch))
        self._last_batch = task
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _apply(
        self, batch: list[tuple[T, asyncio.Future[None]]], after: asyncio.Task[None] | None
    ) -> None:
        if after is not None:
            await asyncio.wait({after})  # its outcome is its own handlers' concern
        BATCH_SIZE.observe(len(batch))
        try:
            await self._apply_batch([item for item, _ in batch])
        except Exception as exc:
            BATCH_FALLBACKS.inc()
            log.warning(
                "batch not projected; projecting its events one by one",
                events=len(batch),
                exc_info=exc,
            )
            for _, done in batch:
                if not done.done():  # a handler cancelled meanwhile no longer waits
                    done.set_exception(BatchFailed(repr(exc)))
        else:
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
