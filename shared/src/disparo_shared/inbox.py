"""The consumer inbox: a handled event id is remembered, so redeliveries change nothing."""

from collections.abc import Sequence
from uuid import UUID

import asyncpg


async def first_delivery(conn: asyncpg.Connection, consumer: str, event_id: UUID) -> bool:
    """Record ``event_id`` for ``consumer`` in the caller's transaction.

    True the first time; False when it was already handled (then the caller skips the work and
    lets its transaction commit nothing). Because the record commits with the handler's own
    writes, a crash before commit leaves neither, and the redelivery is handled afresh.
    """
    inserted = await conn.fetchval(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1::text, $2::uuid)"
        " ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        event_id,
    )
    return bool(inserted)


async def first_deliveries(
    conn: asyncpg.Connection, consumer: str, event_ids: Sequence[UUID]
) -> set[UUID]:
    """``first_delivery`` for a batch in one statement: the ids of ``event_ids`` seen for the
    first time (an id twice in the batch is recorded once and returned once)."""
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id) SELECT $1::text, unnest($2::uuid[])"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        event_ids,
    )
    return {row["event_id"] for row in rows}


async def prune_inbox(conn: asyncpg.Connection, older_than_days: int = 30) -> int:
    """Forget ids older than the streams' retention, after which no redelivery can come."""
    result = await conn.execute(
        "DELETE FROM inbox WHERE received_at < now() - make_interval(days => $1::int)",
        older_than_days,
    )
    return int(result.split()[-1])
