"""The dispatcher's part of LGPD: forgetting an erased doctor, and pruning past retention.

On ``contact.erased`` the doctor's queued and held messages are cancelled (never sent), every
kept message of theirs loses its phone and text, and the recipient row (sticky sender,
pacing) is deleted; a message already in flight at that instant finishes and is blanked by the
retention job later. Retention blanks phone and text of messages sent or cancelled more than
``message_retention_days`` ago, and forgets idle phones that never opted out.
"""

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
        return len(cancelled)


async def prune_expired(pool: asyncpg.Pool, cutoff: datetime, batch_size: int) -> int:
    """One batch of retention: blanked messages plus forgotten phones."""
    async with pool.acquire() as conn:
        blanked = await conn.execute(SQL.blank_expired_messages, cutoff, batch_size)
        forgotten = await conn.execute(SQL.forget_idle_recipients, cutoff, batch_size)
    return max(_count(blanked), _count(forgotten))


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])
