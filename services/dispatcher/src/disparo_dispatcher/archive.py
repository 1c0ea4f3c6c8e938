"""Finished messages out of the queue's hot table, and out of the archive past retention.

Every message is a row of ``messages`` from its request to its end (sent, dead, cancelled). Kept
there, a 10,000,000-message day leaves ten million finished rows in the table the claim, the
reclaim and every vacuum walk. A send, the common end, leaves at once: ``mark_sent`` moves the
row into ``messages_archive`` as it records it. For the rest (dead, cancelled, sends settled after
a crash) every ``archive_interval_seconds`` the archiver moves rows that finished more than
``archive_after_seconds`` ago, in batches of ``archive_batch_size``, each one statement
(``DELETE … RETURNING`` feeding ``INSERT``) in its own transaction; the hot table keeps what is
not finished plus about a minute of those.
Retention deletes archived rows ``archive_retention_days`` after they finished, with their
idempotency keys.

What reads finished messages reads both tables (the ``all_messages`` view, one snapshot per
statement, so a row moved meanwhile shows once): provider statuses and echo ownership by the
provider's id, admin lookups, today's count per sender, the gauges' dead letters, the LGPD
export. What changes finished rows changes both, holding moves off meanwhile
(``wait_archive_turn``): erasure blanks both, and a dead letter re-queued comes back to the hot
table first. The intake's exactly-once does not read the archive at all: it takes each
idempotency key in ``message_keys`` (migration 270), which the archiver never touches.

One replica moves at a time (a transaction-level advisory lock per batch). The archive and the
keys table are tended like the hot tables (``table_care``) where autovacuum is off, here rather
than in the table care loop: a vacuum of a large archive takes long, and must not hold off the
vacuums the claim needs.

Worked example, defaults (60 s, every 5 s, batches of 5,000): at 2,500 msg/s the hot table holds
the backlog plus the last minute's dead and cancelled rows, not the ~150,000 sent ones.
"""

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg

from disparo_dispatcher import table_care
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "archive.sql")
ARCHIVE_TABLES = ("messages_archive", "message_keys")
# Changed rows half the live ones: the table has doubled since its last analyse (``tend_archive``).
APPENDED_ANALYZE_FRACTION = 0.5


async def archive_batch(pool: asyncpg.Pool, finished_before: datetime, batch_size: int) -> int:
    """Move one batch of finished messages into the archive; returns how many moved, or -1
    when it was not this replica's turn."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval(SQL.try_archive_turn):
            return -1
        status = await conn.execute(SQL.archive_finished, finished_before, batch_size)
    return int(status.rsplit(" ", 1)[-1])


async def archive_finished(
    pool: asyncpg.Pool,
    now: datetime,
    settle: timedelta,
    batch_size: int,
    max_batches: int = 20,
) -> int:
    """Move what finished before ``now - settle``, batch after batch until one comes back short
    (or ``max_batches``, so one pass stays bounded); returns how many moved."""
    moved = 0
    for _ in range(max_batches):
        count = await archive_batch(pool, now - settle, batch_size)
        if count < 0:
            break
        moved += count
        if count < batch_size:
            break
    return moved


async def prune_archive(pool: asyncpg.Pool, cutoff: datetime, batch_size: int) -> int:
    """One batch of the archive's retention (``disparo_shared.retention``): messages that
    finished before ``cutoff`` are deleted, with their idempotency keys."""
    return await pool.fetchval(SQL.prune_archive, cutoff, batch_size)


async def tend_archive(pool: asyncpg.Pool, policy: table_care.CarePolicy) -> None:
    """Vacuum or analyse the archive and the keys table when autovacuum has not.

    Both are only appended to (until retention) and read by index, so they are analysed each
    time they double (migration 320 asks the same of autovacuum): at the hot tables' 5% the
    archive's analyses, each reading up to 30,000 of its pages, took 6.5 s of Postgres in a
    million-message run."""
    appended = dataclasses.replace(policy, analyze_fraction=APPENDED_ANALYZE_FRACTION)
    await table_care.tend_tables(pool, appended, tables=ARCHIVE_TABLES, turn="archive")


async def wait_turn(conn: asyncpg.Connection) -> None:
    """In the caller's transaction: let a batch being moved finish, then hold moves off until
    the transaction ends (for statements that change finished rows in both tables)."""
    await conn.fetchval(SQL.wait_archive_turn)
