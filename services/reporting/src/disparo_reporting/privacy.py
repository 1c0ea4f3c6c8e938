"""reporting's part of LGPD: counts without the person, after an erasure or past retention.

On ``contact.erased`` the doctor's messages keep their states and times but lose phone and
name, their replies keep their attribution (so reply counts hold) but lose phone and first
words, and their consent row goes; a random pseudonym ("erased:<uuid>") takes the phone's
place, so per-doctor figures (replied, top responders) still group their rows. The phone's
keyed digest (``disparo_shared.phone_digests``) is kept in ``erased_phones``: a rebuild replays
streams that may still carry the doctor's events (until the streams' ``max_age``), and
``forget_erased_phones`` blanks its result again. Retention does the same to every message and
reply older than ``phone_retention_days`` (pseudonyms "expired:<uuid>").
"""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from disparo_shared.dead_letter_erasure import forget_in_dead_letters
from disparo_shared.events import ContactErased
from disparo_shared.queries import load_queries

SQL = load_queries(Path(__file__).parent / "sql" / "privacy.sql")


async def on_contact_erased(
    conn: asyncpg.Connection, event: ContactErased, phone: str, _reply_window: timedelta
) -> None:
    """Forget the doctor (``phone`` in reporting's canonical form), in the caller's transaction."""
    pseudonym = await conn.fetchval(
        SQL.remember_erasure, phone, f"erased:{event.event_id}", event.occurred_at
    )
    await conn.execute(SQL.forget_phone, phone, pseudonym)
    await forget_in_dead_letters(conn, phone, event.contact_id)


async def forget_late(
    conn: asyncpg.Connection, phones: list[str], occurred_at: list[datetime]
) -> None:
    """After projecting events from before an erasure that arrived after it (streams are not
    ordered among each other): forget their erased phones again, in the same transaction.
    ``occurred_at[i]`` is the time of the event that carried ``phones[i]``."""
    for row in await conn.fetch(SQL.erased_among, phones, occurred_at):
        await conn.execute(SQL.forget_phone, row["phone"], row["pseudonym"])


async def export_contact(pool: asyncpg.Pool, phone: str) -> dict[str, Any]:
    """Everything reporting holds about the doctor (LGPD access request), as JSON-ready data:
    their messages' states and times, their replies' first words, their consent."""
    async with pool.acquire() as conn:
        messages = await conn.fetch(SQL.export_messages, phone)
        replies = await conn.fetch(SQL.export_replies, phone)
        consent = await conn.fetchrow(SQL.export_consent, phone)
    return {
        "messages": [dict(row) for row in messages],
        "replies": [dict(row) for row in replies],
        "consent": None if consent is None else dict(consent),
    }


async def forget_erased_phones(pool: asyncpg.Pool) -> None:
    """Blank again, after a rebuild, whatever the replay brought back of erased doctors."""
    await pool.execute(SQL.forget_erased_phones)


async def prune_expired(pool: asyncpg.Pool, cutoff: datetime, batch_size: int) -> int:
    """One batch of retention over messages and replies; returns the larger count."""
    async with pool.acquire() as conn:
        phones = await conn.fetchval(SQL.expire_message_phones, cutoff, batch_size)
        replies = await conn.execute(SQL.expire_reply_phones, cutoff, batch_size)
    return max(phones, int(replies.rsplit(" ", 1)[-1]))
