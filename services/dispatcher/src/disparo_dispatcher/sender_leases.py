"""Sender leases: each sender is sent for by exactly one replica, and replicas share them fairly.

Every few seconds a replica beats (``replicas.alive_until``), renews the leases it holds, and
compares its count with its fair share, ``ceil(sendable senders / live replicas)``: it gives back
senders above its share and takes free or expired ones below it. With 50 senders, a second
replica starting makes the first give back 25 within one renewal period, and the second takes
them on its next one; a replica killed with ``kill -9`` stops renewing, and its senders are taken
over once their lease (10 s by default) runs out. Because only the holder sends for a sender, its
per-second limiter lives in memory and is exact; the new holder waits one second before its first
send, since it cannot know what the previous holder sent in the last one.
"""

import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import asyncpg

from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "senders.sql")


def fair_share(sendable_senders: int, live_replicas: int) -> int:
    """How many senders one replica should hold: the ceiling, so none is left unheld."""
    return math.ceil(sendable_senders / max(1, live_replicas))


async def heartbeat(
    conn: asyncpg.Connection, replica_id: str, now: datetime, alive_until: datetime
) -> int:
    """Record this replica as alive; returns how many replicas are alive now."""
    await conn.execute(SQL.heartbeat_replica, replica_id, alive_until, now)
    return await conn.fetchval(SQL.count_live_replicas, now)


async def forget(conn: asyncpg.Connection, replica_id: str) -> None:
    await conn.execute(SQL.forget_replica, replica_id)


async def renew(
    conn: asyncpg.Connection, replica_id: str, sender_ids: Sequence[str], lease_until: datetime
) -> set[str]:
    """Extend the leases still held; returns them (a missing one was lost or paused)."""
    if not sender_ids:
        return set()
    rows = await conn.fetch(SQL.renew_sender_leases, replica_id, list(sender_ids), lease_until)
    return {row["sender_id"] for row in rows}


async def acquire(
    conn: asyncpg.Connection, replica_id: str, now: datetime, lease_until: datetime, want: int
) -> list[asyncpg.Record]:
    """Take up to ``want`` free sendable senders; returns their rows."""
    if want <= 0:
        return []
    return await conn.fetch(SQL.acquire_sender_leases, replica_id, now, lease_until, want)


async def release(conn: asyncpg.Connection, replica_id: str, sender_ids: Sequence[str]) -> None:
    if sender_ids:
        await conn.execute(SQL.release_sender_leases, replica_id, list(sender_ids))
