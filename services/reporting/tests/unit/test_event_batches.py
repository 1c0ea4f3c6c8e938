"""The handlers of one pull are gathered into one batch, and learn its outcome together."""

import asyncio
from collections.abc import Sequence

import pytest

from disparo_reporting.event_batches import BatchFailed, EventBatcher


class Recorder:
    def __init__(self, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on

    async def apply(self, items: Sequence[int]) -> None:
        self.batches.append(list(items))
        await asyncio.sleep(0)  # a real batch waits on Postgres
        if self.fail_on in items:
            raise ValueError(f"{self.fail_on} is poison")


async def test_handlers_started_together_share_one_batch() -> None:
    recorder = Recorder()
    batcher = EventBatcher(recorder.apply, max_size=100)
    await asyncio.gather(*(batcher.submit(n) for n in range(10)))
    assert recorder.batches == [list(range(10))]


async def test_a_full_batch_goes_at_once_and_the_rest_follows() -> None:
    recorder = Recorder()
    batcher = EventBatcher(recorder.apply, max_size=4)
    await asyncio.gather(*(batcher.submit(n) for n in range(10)))
    assert recorder.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


async def test_every_handler_of_a_failed_batch_hears_of_it() -> None:
    recorder = Recorder(fail_on=3)
    batcher = EventBatcher(recorder.apply, max_size=100)
    outcomes = await asyncio.gather(*(batcher.submit(n) for n in range(5)), return_exceptions=True)
    assert all(isinstance(outcome, BatchFailed) for outcome in outcomes)
    await batcher.submit(7)  # the next batch is a new one
    assert recorder.batches == [[0, 1, 2, 3, 4], [7]]


async def test_a_later_submit_is_a_later_batch() -> None:
    recorder = Recorder()
    batcher = EventBatcher(recorder.apply, max_size=100)
    await batcher.submit(1)
    await batcher.submit(2)
    assert recorder.batches == [[1], [2]]
    with pytest.raises(BatchFailed):
        await EventBatcher(Recorder(fail_on=5).apply, max_size=10).submit(5)


async def test_a_batch_stops_at_the_weight_of_its_items() -> None:
    """Weighed by messages: ten receipts and sent batches of 1,000 under a cap of 2,500."""
    recorder = Recorder()
    weights = {n: 1000 if n % 3 == 0 else 1 for n in range(10)}
    batcher = EventBatcher(recorder.apply, max_size=2500, size_of=weights.__getitem__)
    await asyncio.gather(*(batcher.submit(n) for n in range(10)))
    assert recorder.batches == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9]]
    assert all(sum(weights[n] for n in batch) <= 2500 for batch in recorder.batches)


async def test_an_item_heavier_than_the_cap_is_a_batch_of_its_own() -> None:
    recorder = Recorder()
    batcher = EventBatcher(recorder.apply, max_size=10, size_of=lambda n: n)
    await asyncio.gather(*(batcher.submit(n) for n in (1, 2, 50, 3)))
    assert recorder.batches == [[1, 2], [50], [3]]


async def test_the_batches_of_one_pull_are_applied_one_after_another() -> None:
    running: list[int] = []
    overlapped = False

    async def apply(items: Sequence[int]) -> None:
        nonlocal overlapped
        overlapped = overlapped or bool(running)
        running.append(items[0])
        await asyncio.sleep(0.01)  # a transaction's round trips
        running.remove(items[0])

    batcher = EventBatcher(apply, max_size=2)
    await asyncio.gather(*(batcher.submit(n) for n in range(8)))
    assert not overlapped
