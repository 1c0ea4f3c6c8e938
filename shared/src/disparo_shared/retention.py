"""Personal data past its retention, pruned by a background loop in each service that keeps any.

A service gives a ``prune(pool, cutoff)`` that blanks or deletes what is older than ``cutoff``
(a bounded batch, returning how many rows it touched); ``retention_worker`` runs it every
``interval_seconds`` until a batch comes back short, so a backlog drains without one huge
transaction. Example: dispatcher messages finished more than 30 days ago lose phone and body.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg

from disparo_shared.logging import get_logger

log = get_logger(__name__)

Prune = Callable[[asyncpg.Pool, datetime, int], Awaitable[int]]


async def prune_all(
    pool: asyncpg.Pool, prune: Prune, cutoff: datetime, batch_size: int = 5_000
) -> int:
    """Run ``prune`` in batches until one touches fewer than ``batch_size`` rows."""
    total = 0
    while True:
        touched = await prune(pool, cutoff, batch_size)
        total += touched
        if touched < batch_size:
            return total


def retention_worker(
    name: str,
    prune: Prune,
    *,
    keep: timedelta,
    interval_seconds: float,
    clock: Callable[[], datetime],
):
    """A runtime worker that prunes what is older than ``keep`` every ``interval_seconds``."""

    async def worker(runtime) -> None:
        while True:
            pruned = await prune_all(runtime.pool, prune, clock() - keep)
            if pruned:
                log.info("personal data past retention pruned", job=name, rows=pruned)
            await asyncio.sleep(interval_seconds)

    worker.__name__ = f"{name}_retention"
    return worker
