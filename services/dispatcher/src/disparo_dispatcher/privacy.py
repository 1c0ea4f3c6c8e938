"""The dispatcher's part of LGPD: forgetting an erased doctor, and pruning past retention.

On ``contact.erased`` the doctor's queued and held messages are cancelled (never sent), every
kept message of theirs loses its phone and text, and the recipient row (sticky sender,
pacing) is deleted; a message being sent at that instant finishes, and ``pending_erasures``
blanks it right after (the phone waits there no longer than that send). Retention blanks
phone and text of messages sent or cancelled more than
``message_retention_days`` ago, and forgets idle phones that never opted out.
"""

import asyncio
from datetime import datetime
from pathlib import Path

import asyncpg

from disparo_shared.events import ContactErased
from disparo_shared.inbox import first_delivery
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "privacy.sql")
ERASURE_CONSUMER = "dispatcher.contact_erased"


async def forget_contact(pool: asyncpg.Pool, event: ContactErased, now: datetime) -> int:
    """Apply an erasure once; returns how many queued messages were cancelled."""
    async with pool.acquire() as conn, conn.transaction():
        if not await first_delivery(conn, ERASURE_CONSUMER, event.event_id):
            return 0
        cancelled = await conn.fetch(SQL.cancel_pending_of_erased, event.phone, now)
        await conn.execute(SQL.blank_erased_messages, event.phone, event.contact_id)
        await conn.execute(SQL.forget_recipient, event.phone)
        await conn.execute(SQL.hold_erasure_for_sends, event.phone, event.contact_id, now)
        return len(cancelled)


async def finish_pending_erasures(pool: asyncpg.Pool) -> None:
    """Blank the messages that were being sent when their doctor was erased, once sent."""
    await pool.execute(SQL.finish_pending_erasures)


def pending_erasures_worker(interval_seconds: float):
    """A runtime worker finishing held erasures every ``interval_seconds``."""

    async def pending_erasures(runtime) -> None:
        while True:
            await finish_pending_erasures(runtime.pool)
            await asyncio.sleep(interval_seconds)

    return pending_erasures


async def prune_expired(pool: asyncpg.Pool, cutoff: datetime, batch_size: int) -> int:
    """One batch of retention: blanked messages plus forgotten phones."""
    async with pool.acquire() as conn:
        blanked = await conn.execute(SQL.blank_expired_messages, cutoff, batch_size)
        forgotten = await conn.execute(SQL.forget_idle_recipients, cutoff, batch_size)
    return max(_count(blanked), _count(forgotten))


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])
